"""Tests for app.sources and app.sample: sample clip, files, folders, errors and the threaded live camera."""

import threading
import time

import cv2
import numpy as np
import pytest

from app import sample, sources
from app.sample import ken_burns
from app.sources import CameraSource, open_source
from models.errors import UserError

SMALL = (160, 120)


def read_all(src) -> list:
    """Every frame of a finite source, to its end."""
    frames = []
    while (frame := src.read()) is not None:
        frames.append(frame)
    assert src.ended
    return frames


def _write_video(path, n, size=(64, 48), fps=20.0):
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    writer.release()
    return path


# ----------------------------------------------------------------------------- sample / ken burns


def test_sample_frames_have_size_and_move():
    with open_source("sample", size=SMALL, fps=10) as src:
        assert src.name == "sample" and not src.live
        assert src.frame_count == 120  # 6 s + 3 s + 3 s at 10 fps
        frames = [src.read() for _ in range(15)]
    for f in frames:
        assert f.shape == (120, 160, 3) and f.dtype == np.uint8
    for a, b in zip(frames, frames[1:]):
        assert np.abs(a.astype(int) - b).mean() > 0.2  # every frame moves


def test_sample_is_deterministic():
    a = read_all(open_source("sample", size=SMALL, fps=5))
    b = read_all(open_source("sample", size=SMALL, fps=5))
    assert len(a) == len(b) == 60
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_sample_ends_after_frame_count_and_loops():
    src = open_source("sample", size=SMALL, fps=5)
    frames = [src.read() for _ in range(src.frame_count)]
    assert all(f is not None for f in frames)
    assert not src.ended
    assert src.read() is None and src.ended
    assert src.read() is None

    looping = open_source("sample", size=SMALL, fps=5, loop=True)
    n = looping.frame_count
    again = [looping.read() for _ in range(2 * n + 3)]
    assert all(f is not None for f in again) and not looping.ended
    assert np.array_equal(again[0], again[n])  # the second pass starts over


def test_sample_shows_different_photos():
    frames = read_all(open_source("sample", size=SMALL, fps=2))
    hens, duck, panda = frames[2], frames[14], frames[20]
    # The duck photo is mostly dark water; the hens are on bright green grass.
    assert hens[..., 1].mean() > duck[..., 1].mean() + 20
    assert np.abs(panda.astype(int) - duck).mean() > 20


def test_ken_burns_counts_and_sizes():
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, :200] = (40, 160, 220)
    frames = list(ken_burns([img, img[:, ::-1]], size=(120, 90), fps=10, seconds_each=[2, 1]))
    assert len(frames) == 30
    assert all(f.shape == (90, 120, 3) and f.dtype == np.uint8 for f in frames)


@pytest.mark.parametrize("photo", [(960, 640), (960, 906), (300, 1000), (2000, 500)])
@pytest.mark.parametrize("motion", sample.MOTIONS)
def test_view_stays_inside_the_photo(photo, motion):
    """Pan, zoom and rotation never show anything outside the photo (no borders)."""
    size = (640, 480)
    corners = np.array([[0, 0, 1], [size[0], 0, 1], [0, size[1], 1], [size[0], size[1], 1]], float)
    for t in np.linspace(0, 1, 9):
        inverse = cv2.invertAffineTransform(sample._view_matrix(photo, size, motion, t))
        xy = corners @ inverse.T
        assert xy[:, 0].min() >= -1e-3 and xy[:, 0].max() <= photo[0] + 1e-3
        assert xy[:, 1].min() >= -1e-3 and xy[:, 1].max() <= photo[1] + 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_moves_stay_in_the_ranges_of_the_fixed_ones(seed):
    """A random camera move (eval_live --seed) is of the same kind as MOTIONS: zoom, pan and roll in their
    ranges; the same generator state gives the same move, and it keeps the view inside the photo."""
    rng = np.random.default_rng(seed)
    moves = np.array([sample.random_motion(rng) for _ in range(50)])
    for moves_ in (moves, np.array(sample.MOTIONS)):
        assert moves_.shape[1] == 8
        assert np.all(moves_[:, :2] >= 1.0) and np.all(moves_[:, :2] <= 1.35)
        assert np.all(np.abs(moves_[:, 2:6]) <= 0.6) and np.all(np.abs(moves_[:, 6:]) <= 3.0)
    assert len(np.unique(moves, axis=0)) == 50
    for move in moves[:5]:
        test_view_stays_inside_the_photo((960, 640), tuple(move))
    a, b = (sample.random_motion(np.random.default_rng(seed)) for _ in range(2))
    assert a == b


def test_ken_burns_plays_the_moves_it_is_given():
    img = np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)
    own = list(ken_burns([img], size=(120, 90), fps=10, seconds_each=1))
    same = list(ken_burns([img], size=(120, 90), fps=10, seconds_each=1, motions=sample.MOTIONS))
    other = list(ken_burns([img], size=(120, 90), fps=10, seconds_each=1,
                           motions=[sample.random_motion(np.random.default_rng(1))]))
    assert all(np.array_equal(a, b) for a, b in zip(own, same))
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(own, other)]) > 10


def test_view_moves_zooms_and_rotates():
    motion = sample.MOTIONS[0]
    start = sample._view_matrix((960, 640), (640, 480), motion, 0.0)
    end = sample._view_matrix((960, 640), (640, 480), motion, 1.0)
    def scale(m):
        return float(np.hypot(m[0, 0], m[0, 1]))

    def angle(m):
        return float(np.degrees(np.arctan2(-m[0, 1], m[0, 0])))
    assert scale(end) / scale(start) == pytest.approx(motion[1] / motion[0], rel=0.05)
    assert abs(angle(end) - angle(start)) > 2.0
    assert all(abs(angle(m)) <= 5.0 for m in (start, end))


# ----------------------------------------------------------------------------- files and folders


def test_video_file_yields_every_frame(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 17)
    with open_source(str(path)) as src:
        assert src.fps == pytest.approx(20.0)
        assert src.frame_count == 17
        frames = read_all(src)
    assert len(frames) == 17
    assert frames[0].shape == (48, 64, 3)
    assert [int(round(f.mean() / 10)) for f in frames] == list(range(17))
    assert src.ended and src.read() is None


def test_video_file_loops(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 5)
    src = open_source(str(path), loop=True)
    values = [int(round(src.read().mean() / 10)) for _ in range(12)]
    assert values == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    src.close()


def test_video_file_realtime_paces(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 6, fps=20.0)
    start = time.monotonic()
    assert len(read_all(open_source(str(path)))) == 6
    fast = time.monotonic() - start
    start = time.monotonic()
    assert len(read_all(open_source(str(path), realtime=True))) == 6
    paced = time.monotonic() - start
    assert paced >= 0.24  # 5 frame periods of 50 ms
    assert paced > fast


def test_folder_of_images(tmp_path):
    for name, color in (("b.png", (0, 0, 255)), ("a.jpg", (255, 0, 0))):
        cv2.imwrite(str(tmp_path / name), np.full((200, 300, 3), color, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(str(tmp_path), size=(80, 60), fps=5)
    assert src.frame_count == 30  # 2 images x 3 s x 5 fps
    frames = read_all(src)
    assert len(frames) == 30 and all(f.shape == (60, 80, 3) for f in frames)
    assert frames[0][..., 0].mean() > 200  # a.jpg (blue) first: sorted by name
    assert frames[-1][..., 2].mean() > 200  # then b.png (red)


def test_single_image(tmp_path):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), np.full((100, 100, 3), 90, np.uint8))
    frames = read_all(open_source(str(path), size=(64, 48), fps=4))
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)


@pytest.mark.parametrize("make", ["missing", "empty_dir", "corrupt_video", "text_dir", "corrupt_image"])
def test_bad_paths_raise_user_error(tmp_path, make):
    if make == "missing":
        path = tmp_path / "nope.mp4"
    elif make == "empty_dir":
        path = tmp_path / "empty"
        path.mkdir()
    elif make == "corrupt_video":
        path = tmp_path / "broken.mp4"
        path.write_bytes(b"\x00garbage" * 500)
    elif make == "text_dir":
        path = tmp_path / "docs"
        path.mkdir()
        (path / "readme.txt").write_text("hi")
    else:
        path = tmp_path / "broken.jpg"
        path.write_bytes(b"not a jpeg")
    with pytest.raises(UserError) as err:
        open_source(str(path))
    message = str(err.value)
    assert str(path) in message and "\n" not in message


# ----------------------------------------------------------------------------- live camera


class FakeDevice:
    """A camera that can be unplugged; numbers its frames in the first 4 bytes."""

    def __init__(self, period=0.005, failure="false"):
        self.present = True
        self.period = period
        self.failure = failure  # "false": read returns (False, None); "raise": read raises
        self.count = 0
        self.opens = 0
        self.lock = threading.Lock()

    def open(self):
        self.opens += 1
        if not self.present and self.failure == "raise":
            raise RuntimeError("no such device")
        return FakeCapture(self, opened=self.present)


class FakeCapture:
    def __init__(self, device, opened):
        self.device, self.opened, self.released = device, opened, False

    def isOpened(self):
        return self.opened

    def read(self):
        time.sleep(self.device.period)
        if not self.device.present:
            if self.device.failure == "raise":
                raise OSError("device vanished")
            return False, None
        with self.device.lock:
            self.device.count += 1
            n = self.device.count
        frame = np.zeros((4, 4, 3), np.uint8)
        frame.reshape(-1)[:4] = np.frombuffer(np.uint32(n).tobytes(), np.uint8)
        return True, frame

    def release(self):
        self.released = True


def _number(frame):
    return int(np.frombuffer(frame.reshape(-1)[:4].tobytes(), np.uint32)[0])


def _wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_camera_delivers_newer_frames_and_closes():
    device = FakeDevice()
    cam = CameraSource(3, opener=device.open)
    assert cam.live and cam.name == "camera 3" and cam.frame_count is None
    first = cam.read(timeout=1.0)
    second = cam.read(timeout=1.0)
    assert first is not None and second is not None
    assert first.shape == (4, 4, 3)
    assert _number(second) > _number(first)
    cam.close()
    assert cam.ended and cam.read(timeout=0.1) is None
    assert not cam._thread.is_alive()


def test_camera_keeps_only_the_latest_frame():
    device = FakeDevice(period=0.001)
    with CameraSource(0, opener=device.open) as cam:
        numbers = []
        for _ in range(4):
            time.sleep(0.1)  # a slow consumer
            produced = device.count
            frame = cam.read(timeout=1.0)
            numbers.append(_number(frame))
            assert _number(frame) >= produced - 2  # recent, not a backlog
        assert numbers == sorted(set(numbers))
        assert numbers[-1] - numbers[0] > 20  # many frames were skipped, not queued


def test_camera_read_times_out_without_new_frame():
    device = FakeDevice(period=0.5)
    with CameraSource(0, opener=device.open) as cam:
        assert cam.read(timeout=2.0) is not None
        start = time.monotonic()
        assert cam.read(timeout=0.05) is None
        assert time.monotonic() - start < 0.4


@pytest.mark.parametrize("failure", ["false", "raise"])
def test_camera_lost_and_reconnected(failure):
    device = FakeDevice(failure=failure)
    with CameraSource(0, opener=device.open) as cam:
        assert cam.read(timeout=1.0) is not None and not cam.lost
        device.present = False
        assert _wait_for(lambda: cam.lost, 2.0)
        cam.read(timeout=0.05)  # drain a frame that may have been waiting
        assert cam.read(timeout=0.3) is None and cam.lost
        opens_during_outage = device.opens
        time.sleep(0.6)
        assert device.opens > opens_during_outage  # it keeps retrying
        device.present = True
        back = time.monotonic()
        frame = cam.read(timeout=3.0)
        assert frame is not None
        assert time.monotonic() - back < 2.0
        assert not cam.lost
        assert cam._thread.is_alive()


def test_camera_that_cannot_open_falls_back_to_sample(monkeypatch):
    device = FakeDevice()
    device.present = False
    monkeypatch.setattr(sources, "_open_capture", lambda index, size=None: device.open())
    messages = []
    src = open_source("0", size=SMALL, warn=messages.append)
    assert messages == ["warning: camera 0 cannot be opened; playing the built-in sample instead"]
    assert src.name == "sample" and not src.live
    frame = src.read()
    assert frame.shape == (120, 160, 3)
    src.close()


# ----------------------------------------------------------------------------- choosing and sizing a camera


class SizedCapture:
    """A camera that delivers `size` frames whatever it is asked (records what it was asked)."""

    def __init__(self, size=(640, 480)):
        self.size, self.props = size, {}

    def isOpened(self):
        return True

    def set(self, prop, value):
        self.props[prop] = value
        return True

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1]}.get(prop, 0)

    def read(self):
        time.sleep(0.005)
        return True, np.zeros((self.size[1], self.size[0], 3), np.uint8)

    def release(self):
        pass


def test_the_camera_is_asked_for_the_capture_size(monkeypatch):
    capture = SizedCapture((1280, 720))
    monkeypatch.setattr(cv2, "VideoCapture", lambda spec: capture)
    messages = []
    with open_source("0", camera_size=(1280, 720), warn=messages.append) as cam:
        assert cam.read(timeout=1.0).shape == (720, 1280, 3) and cam.camera
        time.sleep(0.05)
    assert capture.props[cv2.CAP_PROP_FRAME_WIDTH] == 1280 and capture.props[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert messages == []                                       # delivered as asked: nothing to say


def test_a_camera_that_delivers_another_size_says_so_once():
    messages = []
    with CameraSource(0, opener=lambda: SizedCapture((640, 480)), size=(1920, 1080), warn=messages.append) as cam:
        for _ in range(3):
            assert cam.read(timeout=1.0).shape == (480, 640, 3)
    assert messages == ["camera 0: asked for 1920x1080, it delivers 640x480"]


@pytest.fixture
def sysfs(tmp_path, monkeypatch):
    """A fake /sys/class/video4linux: a laptop camera (capture and metadata nodes) and a Logitech."""
    root = tmp_path / "video4linux"
    for n, name, node in [(0, "Integrated Camera: Integrated C", 0), (1, "Integrated Camera: Integrated C", 1),
                          (2, "HD Pro Webcam C920", 0), (3, "HD Pro Webcam C920", 1)]:
        d = root / f"video{n}"
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "index").write_text(f"{node}\n")
    monkeypatch.setattr(sources, "SYSFS_V4L", root)
    return root


def test_list_cameras_prints_those_that_open_with_their_names(sysfs):
    opened = {0: (1280, 720), 2: (640, 480)}                   # the metadata nodes never open
    cams = sources.list_cameras(lambda i: SizedCapture(opened[i]) if i in opened else FakeCapture(None, False))
    assert cams == [(0, "1280x720", "Integrated Camera: Integrated C"), (2, "640x480", "HD Pro Webcam C920")]
    assert sources.camera_list_text(cams).splitlines() == [
        "0   1280x720  Integrated Camera: Integrated C  (/dev/video0)",
        "2    640x480  HD Pro Webcam C920  (/dev/video2)"]
    assert sources.camera_list_text([]) == "no camera found"


def test_list_cameras_is_quiet_and_exits_without_the_model(capfd, monkeypatch):
    """Here there is no camera: OpenCV tries every index, and says nothing about it on stderr."""
    import app.run
    from app.__main__ import main
    monkeypatch.setattr(app.run, "make_pipeline", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(["--list-cameras"]) == 0
    out, err = capfd.readouterr()
    assert out == "no camera found\n" and err == ""


def test_a_camera_picked_by_name(sysfs, monkeypatch):
    asked = []
    monkeypatch.setattr(sources, "_open_capture", lambda spec, size=None: asked.append(spec) or SizedCapture())
    with open_source("cam:c920") as cam:                        # case ignored; its capture node, not the metadata
        assert asked == [2] and cam.name == "camera 2 (HD Pro Webcam C920)" and cam.camera
    assert sources.find_camera("integrated", sysfs) == 0
    with pytest.raises(UserError, match=r"no camera named like 'Sony' \(cameras: 0: Integrated Camera: "
                                        r"Integrated C, 2: HD Pro Webcam C920\)"):
        open_source("cam:Sony")
    with pytest.raises(UserError, match="matches several cameras"):
        open_source("cam:C")


def test_a_camera_picked_by_device_path(monkeypatch):
    asked = []
    monkeypatch.setattr(sources, "_open_capture", lambda spec, size=None: asked.append(spec) or SizedCapture())
    monkeypatch.setattr(sources, "_device_exists", lambda path: path == "/dev/video2")
    with open_source("/dev/video2") as cam:
        assert asked == [2] and cam.name == "camera /dev/video2"
    with pytest.raises(UserError, match="no such camera device: /dev/video99"):
        open_source("/dev/video99")
