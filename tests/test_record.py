"""Tests for app.record: GIF/WebP/MP4/AVI recordings, temp files, errors, memory bound, snapshots."""

import json
import os
import time

import cv2
import numpy as np
import pytest

from app.record import Recorder, snapshot
from conftest import PHOTOS, decode_frames, script
from models.errors import UserError


def _frame(i, size=(80, 60)):
    w, h = size
    f = np.zeros((h, w, 3), np.uint8)
    f[:] = (min(255, 20 * i), 100, 200)
    cv2.rectangle(f, (i % w, 10), (i % w + 10, 30), (255, 255, 255), -1)
    return f


def _decode(path):
    """(frame count, (w, h) of the first frame) of a video or animation."""
    frames = decode_frames(path)
    return len(frames), (frames[0].shape[1], frames[0].shape[0])


@pytest.mark.parametrize("ext", [".gif", ".mp4", ".webp", ".avi"])
def test_recording_decodes_with_all_frames(tmp_path, ext):
    path = tmp_path / f"out{ext}"
    rec = Recorder(path, fps=10)
    for i in range(12):
        rec.write(_frame(i))
    assert rec.frames == 12
    assert not path.exists()  # still a temp file until close
    assert rec.close() == path
    assert _decode(path) == (12, (80, 60))
    assert os.listdir(tmp_path) == [path.name]  # no temp file left behind


def test_gif_colors_survive(tmp_path):
    path = tmp_path / "out.gif"
    with Recorder(path, fps=10) as rec:
        for i in range(3):
            rec.write(_frame(i))
    ok, anim = cv2.imreadanimation(str(path))
    assert ok
    # GIF dithers to a palette: compare colours over small neighbourhoods.
    got, want = cv2.blur(anim.frames[2][..., :3], (7, 7)), cv2.blur(_frame(2), (7, 7))
    assert np.abs(got.astype(int) - want).mean() < 8
    assert np.abs(got.astype(int) - cv2.blur(_frame(9), (7, 7))).mean() > 8  # and it can tell frames apart


def test_close_twice_and_zero_frames(tmp_path):
    path = tmp_path / "a.gif"
    rec = Recorder(path, fps=10)
    rec.write(_frame(0))
    assert rec.close() == path
    assert rec.close() == path
    with pytest.raises(ValueError):
        rec.write(_frame(1))

    for ext in (".gif", ".mp4"):
        empty = tmp_path / "empty" / f"none{ext}"
        rec = Recorder(empty, fps=10)
        assert rec.close() is None
        assert rec.close() is None
        assert os.listdir(empty.parent) == []


def test_frames_of_other_sizes_are_resized(tmp_path):
    path = tmp_path / "mixed.mp4"
    with Recorder(path, fps=10) as rec:
        rec.write(_frame(0, (80, 60)))
        rec.write(_frame(1, (100, 50)))
        rec.write(cv2.cvtColor(_frame(2, (80, 60)), cv2.COLOR_BGR2GRAY))
    assert _decode(path) == (3, (80, 60))


@pytest.mark.parametrize("ext, width", [(".gif", 800), (".webp", 800), (".gif", 0), (".webp", 333)])
def test_animations_are_scaled_to_anim_width(tmp_path, ext, width):
    path = tmp_path / f"wide{ext}"
    with Recorder(path, fps=10, anim_width=width) as rec:  # 800 px by default; 0 = the canvas's width
        rec.write(_frame(0, (1282, 516)))
    want = {800: (800, 322), 0: (1282, 516), 333: (333, 134)}[width]
    assert _decode(path) == (1, want)


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_videos_keep_the_full_canvas_size(tmp_path, ext):
    path = tmp_path / f"full{ext}"
    with Recorder(path, fps=10, anim_width=320) as rec:  # anim_width is for GIF/WebP only
        rec.write(_frame(0, (1282, 516)))
    assert _decode(path) == (1, (1282, 516))
    odd = tmp_path / f"odd{ext}"
    with Recorder(odd, fps=10) as rec:
        rec.write(_frame(0, (203, 99)))
        rec.write(_frame(1, (203, 99)))
    assert _decode(odd) == (2, (202, 98))                  # codecs want even sides


@pytest.mark.parametrize("ext", [".gif", ".webp"])
def test_animations_keep_anim_fps_and_the_run_length(tmp_path, ext):
    path = tmp_path / f"rate{ext}"
    with Recorder(path, fps=30, anim_fps=10) as rec:
        for i in range(30):
            rec.write(_frame(i))
    ok, anim = cv2.imreadanimation(str(path))
    assert ok and len(anim.frames) == 10                   # every 3rd frame
    assert sum(int(d) for d in anim.durations) == 1000     # 30 frames at 30 fps: 1 s
    with Recorder(tmp_path / f"odd{ext}", fps=29.97, anim_fps=15) as rec:
        for i in range(60):
            rec.write(_frame(i))
        durations = rec.frame_durations_ms()
    assert len(durations) == 30 and abs(sum(durations) - 60 / 29.97 * 1000) <= 10     # rounding does not drift
    assert max(durations) - min(durations) <= (10 if ext == ".gif" else 1)


def test_gif_palette_is_one_small_palette(tmp_path):
    """A photo's frames get one palette of at most GIF_COLORS colours, close to the original colours."""
    from app.record import GIF_COLORS
    base = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (240, 160), interpolation=cv2.INTER_AREA)
    frames = [np.ascontiguousarray(np.roll(base, 8 * i, axis=1)) for i in range(5)]
    path = tmp_path / "photo.gif"
    with Recorder(path, fps=10) as rec:
        for f in frames:
            rec.write(f)
    got = decode_frames(path)
    colours = np.unique(np.concatenate([g[..., :3].reshape(-1, 3) for g in got]), axis=0)
    assert len(colours) <= GIF_COLORS
    err = np.mean([np.abs(g[..., :3].astype(int) - f).mean() for g, f in zip(got, frames)])
    assert err < 8, err                                    # measured 4.3 (OpenCV's fixed 3-3-2 palette: 16.4)


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "out.xyz"
    with pytest.raises(UserError) as err:
        Recorder(path, fps=10)
    message = str(err.value)
    assert str(path) in message and ".gif" in message and ".mp4" in message and "\n" not in message


def test_unwritable_path_fails_at_construction(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    path = blocker / "sub" / "out.gif"
    with pytest.raises(UserError) as err:
        Recorder(path, fps=10)
    assert "file.txt" in str(err.value) and "\n" not in str(err.value)

    with pytest.raises(UserError):
        Recorder(tmp_path, fps=10)  # a folder, no extension


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UserError):
            Recorder(folder / "out.mp4", fps=10)
    finally:
        folder.chmod(0o700)


def test_missing_parent_is_created(tmp_path):
    path = tmp_path / "new" / "deeper" / "out.mp4"
    with Recorder(path, fps=10) as rec:
        rec.write(_frame(0))
    assert path.is_file()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_recording_survives_an_exception(tmp_path, error, ext):
    path = tmp_path / f"crash{ext}"
    rec = Recorder(path, fps=10)
    with pytest.raises(error):
        try:
            for i in range(20):
                if i == 7:
                    raise error("boom")
                rec.write(_frame(i))
        finally:
            rec.close()
    assert _decode(path) == (7, (80, 60))
    assert os.listdir(tmp_path) == [path.name]


def test_gif_memory_is_bounded_and_covers_the_whole_run(tmp_path):
    path = tmp_path / "long.gif"
    rec = Recorder(path, fps=20, anim_fps=20, anim_max_frames=10)
    for i in range(100):
        rec.write(np.full((16, 16, 3), 2 * i, np.uint8))
        assert len(rec._buffer) <= 10
    assert rec.frames == 100
    assert min(rec.frame_durations_ms()) >= 8 * 50  # each kept frame now stands for 8+ written ones
    rec.close()
    ok, anim = cv2.imreadanimation(str(path))
    assert ok and 5 <= len(anim.frames) <= 10
    first, last = anim.frames[0][0, 0, 0], anim.frames[-1][0, 0, 0]
    assert first <= 4 and last >= 2 * 80  # from the start to near the end
    total_ms = sum(int(d) for d in anim.durations)
    assert 4000 <= total_ms <= 6500  # the run lasted 100 / 20 fps = 5 s


def _usual_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_recording_has_usual_permissions(tmp_path):
    path = tmp_path / "perm.gif"
    with Recorder(path, fps=10) as rec:
        rec.write(_frame(0))
    assert path.stat().st_mode & 0o777 == _usual_mode()


def test_snapshot_is_atomic_png(tmp_path):
    canvas = _frame(3, (50, 40))
    path = snapshot(tmp_path / "shots" / "snap.png", canvas)
    assert np.array_equal(cv2.imread(str(path)), canvas)
    assert os.listdir(path.parent) == ["snap.png"]
    assert path.stat().st_mode & 0o777 == _usual_mode()
    with pytest.raises(UserError):
        snapshot(tmp_path / "snap.jpg", canvas)


def test_background_recorder_writes_every_frame_in_order(tmp_path):
    from app.record import BackgroundRecorder
    path = tmp_path / "bg.avi"
    with BackgroundRecorder(Recorder(path, fps=10)) as rec:
        for i in range(20):
            rec.write(_frame(i))
    frames = decode_frames(path)
    assert len(frames) == 20 and rec.frames == 20
    # frame i has its white square at x = i: order is kept
    xs = [int(np.argmax(f[20, :, 1] > 200)) for f in frames]          # the white square (green channel)
    assert xs == sorted(xs) and xs[0] < xs[-1]


def test_background_recorder_closes_after_a_lost_wakeup(tmp_path):
    """A signal raised in the main thread inside the queue's put can leave the recorder thread unwoken with a
    frame waiting: close() still finishes the file, every frame in it, instead of waiting forever."""
    import threading

    from app.record import BackgroundRecorder
    path = tmp_path / "lost.avi"
    rec = BackgroundRecorder(Recorder(path, fps=10))
    rec.write(_frame(0))
    time.sleep(0.5)                                 # the thread has written it and waits for the next
    with rec._q.mutex:                              # a notify cut short: the waiting thread is no longer
        rec._q.not_empty._waiters.clear()           # among the waiters, and nothing will wake it
    rec.write(_frame(1))
    closing = threading.Thread(target=rec.close, daemon=True)
    closing.start()
    closing.join(timeout=10)
    assert not closing.is_alive(), "close() is waiting for a thread that was never woken"
    assert len(decode_frames(path)) == 2


def test_background_recorder_reports_errors(tmp_path):
    from app.record import BackgroundRecorder

    class Broken(Recorder):
        def write(self, canvas):
            raise RuntimeError("disk full")
    rec = BackgroundRecorder(Broken(tmp_path / "x.avi", fps=10))
    rec.write(_frame(0))
    with pytest.raises(RuntimeError, match="disk full"):
        for i in range(50):
            rec.write(_frame(i))
            time.sleep(0.01)
    with pytest.raises(RuntimeError):
        rec.close()


def test_bench_record_reports_every_format(cli):
    """scripts/bench_record.py runs and reports size, time and error per format (figures printed, not judged)."""
    out = cli(script("bench_record").main, "--seconds", "0.2", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["format"] for r in rows} == {"gif", "webp", "mp4 h264", "mp4 mp4v", "avi"}
    assert all(r["mb"] > 0 and r["encode_s"] > 0 and 0 <= r["err"] < 20 for r in rows)
    canvas = {r["width"] for r in rows if r["format"].split()[0] in ("mp4", "avi")}
    assert len(canvas) == 1 and {r["width"] for r in rows if r["format"] == "gif"} == {640, 800} | canvas


def _probe(path):
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return st.codec_context.name, st.codec_context.pix_fmt, st.frames


def test_mp4_is_h264_yuv420p_that_browsers_play(tmp_path):
    pytest.importorskip("av")
    with Recorder(tmp_path / "a.mp4", 30) as rec:
        for i in range(12):
            rec.write(_frame(i))
    assert rec.codec == "h264"
    name, pix, frames = _probe(tmp_path / "a.mp4")
    assert (name, pix) == ("h264", "yuv420p") and frames == 12
    head = (tmp_path / "a.mp4").read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head   # faststart: the index comes first


def test_mp4_falls_back_to_opencv_and_says_so(tmp_path, monkeypatch):
    from app import record, sinks

    monkeypatch.setattr(record, "h264_available", lambda: False)
    said = []
    sink = sinks.RecorderSink([], log=said.append)
    sink.start(tmp_path / "b.mp4", 30)
    assert sink.recorder.recorder.codec in ("avc1", "mp4v")
    assert len(said) == 1 and "MPEG-4 part 2" in said[0] and "av" in said[0]
    sink.stop()


def test_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match=r"notes\.txt is a file, not a folder"):
        Recorder(tmp_path / "notes.txt" / "x.mp4", 30)


def _shown(fps, canvas_width=1282):
    from app.frame import FrameResult, Pred
    from app.render import Hud
    from app.sinks import Shown

    frame = np.full((480, 640, 3), 90, np.uint8)
    hen = Pred(8, "hen", 0.9, [("hen", 0.9), ("cock", 0.05)])
    res = FrameResult(hen, hen, frame, None, None, None)
    hud = Hud(target="hog", fps=fps, latency_ms=fps / 2, message="saved out/x.png", show_help=True, recording=True)
    return Shown(0, res, np.zeros((516, canvas_width, 3), np.uint8), {}, frame, hud)


@pytest.mark.parametrize("ext,width", [(".gif", 800), (".mp4", 1280)])
def test_clean_recordings_have_no_readout_and_are_drawn_for_their_width(tmp_path, ext, width):
    """The clean style draws each frame at the recording's width with no fps/latency readout, help, messages
    or REC dot: frames that differ only in those are recorded identically."""
    from app.kiosk_view import recording_size
    from app.sinks import RecorderSink

    sink = RecorderSink([])
    sink.start(tmp_path / f"c{ext}", 30)
    views = [sink.view(_shown(fps)) for fps in (0.0, 61.3)]
    a, b = (v() for v in views)
    assert a.shape[1::-1] == recording_size(width, (640, 480))
    assert np.array_equal(a, b)
    sink.recorder.write(views[0])
    sink.stop()


def test_screen_style_records_the_canvas(tmp_path):
    from app.config import Settings, override
    from app.sinks import RecorderSink

    sink = RecorderSink([], override(Settings(), {"record.style": "screen"}))
    sink.start(tmp_path / "s.gif", 30)
    shown = _shown(30.0)
    assert sink.view(shown) is shown.canvas
    sink.stop()


def test_an_animation_draws_only_the_frames_it_keeps(tmp_path):
    drawn = []

    def draw(i):
        drawn.append(i)
        return _frame(i)

    with Recorder(tmp_path / "k.gif", 30, anim_fps=10) as rec:
        for i in range(30):
            rec.write(lambda i=i: draw(i))
    assert drawn == list(range(0, 30, 3)) and rec.frames == 30


def test_summary_rates_never_round_up_to_all():
    from app.sinks import share

    assert share(360, 360) == "100%" and share(2734, 2739) == "99.8%" and share(1, 2) == "50%"
    assert share(999, 1000) == "99.9%" and share(9999, 10000) == "99.9%"
