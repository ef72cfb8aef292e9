"""End-to-end runs of the app, headless, on sources written in the test."""
import json
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from app.__main__ import main
from app.run import Stop, StopSignals
from conftest import PHOTOS, ROOT, decode_frames


def _video(path, n=12, size=(320, 240), fps=10):
    """A short clip of the hens photo panning slowly."""
    img = cv2.imread(str(PHOTOS / "hens.jpg"))
    img = cv2.resize(img, (size[0] + 2 * n, size[1]))
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(n):
        w.write(np.ascontiguousarray(img[:, 2 * i:2 * i + size[0]]))
    w.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _video(tmp_path_factory.mktemp("clip") / "hens.avi")


@pytest.mark.parametrize("ext", ["gif", "mp4"])
def test_video_file_to_recording_and_stats(clip, tmp_path, ext, capsys):
    rec, stats = tmp_path / f"out.{ext}", tmp_path / "out.jsonl"
    code = main(["--source", str(clip), "--headless", "--record", str(rec), "--stats", str(stats),
                 "--block", "hog", "--layout", "side_by_side"])
    assert code == 0
    frames = decode_frames(rec)
    from app.kiosk_view import recording_size  # drawn for the recording's own width
    if ext == "mp4":                                          # a file: every frame, none dropped, 1280 px wide
        assert len(frames) == 12 and frames[0].shape[1::-1] == recording_size(1280, (320, 240))
    else:                                                     # 30 fps -> 10 fps, drawn 800 px wide
        assert len(frames) == 4 and frames[0].shape[1::-1] == recording_size(800, (320, 240))
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(12))
    for x in lines:
        assert set(x) == {"frame", "before", "after", "box", "block", "block_area", "fooled", "label_changed",
                          "latency_ms"}
        assert x["fooled"] == (x["block"] is not None and x["after"]["name"] == "hog")
        assert x["label_changed"] == (x["after"]["index"] != x["before"]["index"])
        assert set(x["before"]) == {"index", "name", "prob"} and x["latency_ms"] > 0
    assert lines[0]["before"]["name"] == "hen"
    pasted = [x for x in lines if x["block"] is not None]
    assert len(pasted) >= 10                                  # from the second frame on, the block is on the hens
    for x in pasted:
        assert x["block"] == "hog" and 0 < x["block_area"] <= 0.10
        bx, by, bw, bh = x["box"]
        assert 0 <= bx and 0 <= by and bx + bw <= 320 and by + bh <= 240
    out = capsys.readouterr().out
    assert "frames   12" in out and "fooled" in out
    assert not list(tmp_path.glob(".*"))                      # no temporary recording left behind


def test_the_block_fools_the_classifier_on_a_real_photo(tmp_path):
    stats = tmp_path / "s.jsonl"
    assert main(["--source", str(PHOTOS / "hens.jpg"), "--headless", "--max-frames", "12", "--stats", str(stats),
                 "--quiet"]) == 0
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert len(lines) == 12
    # the default block, hog, makes the after-label hog (measured: 11 of 12 frames, all but the first, which
    # has no box yet); the before-label stays the hens
    assert all(x["block"] in (None, "hog") for x in lines)
    fooled = sum(x["after"]["name"] == "hog" and x["block"] == "hog" for x in lines)
    assert fooled >= 10, [x["after"]["name"] for x in lines]
    assert all(x["before"]["name"] in ("hen", "cock") for x in lines)


def test_block_off_leaves_the_labels_alone(tmp_path):
    stats = tmp_path / "s.jsonl"
    assert main(["--source", str(PHOTOS / "hens.jpg"), "--headless", "--max-frames", "4", "--stats", str(stats),
                 "--no-block", "--quiet"]) == 0
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert all(x["block"] is None and x["after"] == x["before"] for x in lines)


def test_sample_source_runs_by_default(tmp_path, capsys):
    assert main(["--headless", "--max-frames", "5", "--source", "sample"]) == 0
    assert "frames   5" in capsys.readouterr().out


def test_torch_backend_gives_the_same_labels(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for backend, path in (("onnx", a), ("torch", b)):
        assert main(["--source", str(PHOTOS / "panda.jpg"), "--headless", "--max-frames", "3", "--quiet",
                     "--backend", backend, "--stats", str(path)]) == 0
    la = [json.loads(x) for x in a.read_text().splitlines()]
    lb = [json.loads(x) for x in b.read_text().splitlines()]
    assert [x["before"]["index"] for x in la] == [x["before"]["index"] for x in lb]
    assert [x["after"]["index"] for x in la] == [x["after"]["index"] for x in lb]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_recording_survives_signals(tmp_path, sig):
    rec, stats = tmp_path / "live.gif", tmp_path / "live.jsonl"
    # as from a terminal: a shell without job control starts background jobs with SIGINT ignored, and a child
    # inherits that (Python then installs no KeyboardInterrupt handler): give the app SIGINT's default back
    proc = subprocess.Popen([sys.executable, "-m", "app", "--source", "sample", "--loop", "--headless", "--record",
                             str(rec), "--stats", str(stats), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and (not stats.exists() or len(stats.read_text().splitlines()) < 5):
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    n = len(stats.read_text().splitlines())
    assert n >= 5 and len(decode_frames(rec)) == -(-n // 3)    # GIF: every 3rd frame (30 -> 10 fps)
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("sig, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Stop)])
def test_a_signal_waits_until_every_sink_has_the_frame(sig, raised):
    # a signal between the recorder's write and the stats file's left one more frame in the GIF than in the stats
    signals, written = StopSignals(), []
    with pytest.raises(raised):
        with signals.frame():
            written.append("recorder")
            signals.handle(sig)                 # arrives here: must not stop the other sinks
            written.append("stats")
    assert written == ["recorder", "stats"]
    signals.handle(signal.SIGTERM)              # a second SIGTERM leaves the closing alone
    with pytest.raises(KeyboardInterrupt):
        signals.handle(signal.SIGINT)           # a second Ctrl-C still breaks out
    with pytest.raises(raised):
        StopSignals().handle(sig)               # between frames: at once


def test_sliding_window_localiser_option(tmp_path):
    stats = tmp_path / "s.jsonl"
    assert main(["--source", str(PHOTOS / "pig.jpg"), "--headless", "--max-frames", "3", "--quiet",
                 "--localize", "sliding", "--stats", str(stats)]) == 0
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert all(x["box"] is not None and x["block"] == "hog" for x in lines)   # pasted from the first frame on


def test_camera_that_vanishes_mid_run_is_survived(tmp_path, monkeypatch, capsys):
    """A camera delivers frames, goes away for a while, comes back: the run never crashes and resumes."""
    import threading

    import app.run as run_mod
    from app.sources import CameraSource

    photo = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))
    state = {"present": True, "reads": 0}

    def replug():
        time.sleep(1.5)
        state["present"] = True

    class Capture:
        def isOpened(self):
            return state["present"]

        def read(self):
            time.sleep(0.02)
            if not state["present"]:
                return False, None
            state["reads"] += 1
            if state["reads"] == 15:                 # unplugged after 15 frames, back 1.5 s later
                state["present"] = False
                threading.Thread(target=replug, daemon=True).start()
            return True, photo.copy()

        def release(self):
            pass

    monkeypatch.setattr(run_mod, "open_source", lambda *a, **k: CameraSource(0, opener=Capture))
    stats = tmp_path / "s.jsonl"
    t0 = time.time()
    assert main(["--headless", "--max-frames", "60", "--stats", str(stats), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "camera lost: reconnecting" in err and "camera back" in err
    assert len(stats.read_text().splitlines()) == 60
    assert time.time() - t0 < 120


def test_default_camera_missing_falls_back_to_the_sample(capsys):
    assert main(["--headless", "--max-frames", "3", "--source", "0"]) == 0
    cap = capsys.readouterr()
    assert "warning: camera 0 cannot be opened; playing the built-in sample instead" in cap.err
    assert "frames   3" in cap.out and "hen" in cap.out


def test_each_frame_is_shown_with_its_own_labels(tmp_path):
    """Files are drawn one frame behind (render of N overlaps the classification of N+1): a clip whose
    every frame is a different photo must still come out with every frame's own label, in order."""
    names = ["panda.jpg", "owl.jpg", "giraffe.jpg"]
    imgs = [cv2.resize(cv2.imread(str(PHOTOS / n)), (320, 240)) for n in names]
    path = tmp_path / "cycle.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    order = [i % 3 for i in range(15)]
    for i in order:
        w.write(imgs[i])
    w.release()
    stats, rec = tmp_path / "s.jsonl", tmp_path / "s.avi"
    assert main(["--source", str(path), "--headless", "--quiet", "--stats", str(stats), "--record", str(rec),
                 "--no-block", "--layout", "side_by_side"]) == 0
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(15))
    seen = {}
    for i, x in zip(order, lines):
        seen.setdefault(i, set()).add(x["before"]["name"])
    assert all(len(v) == 1 for v in seen.values()), seen          # one photo -> one label, every time
    assert len({next(iter(v)) for v in seen.values()}) == 3        # three photos -> three labels
    assert seen[0] == {"giant panda"}
    frames = decode_frames(rec)                                    # and the picture drawn is that photo
    assert len(frames) == 15
    from app.kiosk_view import kiosk_layout
    px, py, pw, ph = kiosk_layout(frames[0].shape[1::-1], (320, 240), "side_by_side").panes[0]
    for i, f in zip(order, frames):
        pane = cv2.resize(f[py:py + ph, px:px + pw], (320, 240))
        err = [np.abs(pane.astype(int) - im.astype(int)).mean() for im in imgs]
        assert int(np.argmin(err)) == i


class _Window:
    """Stands in for the window (app.display.LetterboxWindow): no keys, never closed."""
    closed = False

    def __init__(self, fullscreen=False):
        self.shown = 0

    def write(self, shown):
        self.shown += 1

    def show(self, canvas):
        pass

    def key(self, wait_ms=1):
        return -1

    def set_fullscreen(self, on):
        pass

    def close(self):
        pass


@pytest.mark.parametrize("window, flags, frames", [
    (True, [], 30),                    # a window never vanishes by itself: the clip starts again
    (True, ["--no-loop"], 12),         # ... unless asked to end with its source
    (False, [], 12),                   # headless: plays once, ends
    (False, ["--loop"], 30),           # ... unless asked to loop
])
def test_a_window_loops_a_finite_source_by_default(clip, monkeypatch, capsys, window, flags, frames):
    import app.run as run_mod
    monkeypatch.setattr(run_mod, "has_display", lambda: window)
    monkeypatch.setattr(run_mod, "LetterboxWindow", _Window)
    assert main(["--source", str(clip), "--fast", "--max-frames", "30", *flags]) == 0
    assert f"frames   {frames} " in capsys.readouterr().out


def test_config_loop_false_ends_a_window_with_its_source(clip, monkeypatch, capsys, tmp_path):
    import app.run as run_mod
    monkeypatch.setattr(run_mod, "has_display", lambda: True)
    monkeypatch.setattr(run_mod, "LetterboxWindow", _Window)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("loop: false\n")
    assert main(["--config", str(cfg), "--source", str(clip), "--fast", "--max-frames", "30"]) == 0
    assert "frames   12 " in capsys.readouterr().out


@pytest.mark.parametrize("flags, mirrored", [([], True), (["--no-mirror"], False)])
def test_a_camera_is_mirrored_by_default(monkeypatch, flags, mirrored):
    """Before classification: the frame the panes show (here with the block off: both) is the flipped one."""
    import app.run as run_mod
    from app.__main__ import parse_args, settings_from
    from app.sources import CameraSource

    photo = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))

    class Capture:
        def isOpened(self):
            return True

        def read(self):
            time.sleep(0.01)
            return True, photo.copy()

        def release(self):
            pass

    monkeypatch.setattr(run_mod, "open_source", lambda *a, **k: CameraSource(0, opener=Capture))
    seen = []
    settings = settings_from(parse_args(["--headless", "--max-frames", "2", "--no-block", *flags]))
    run_mod.run(settings, log=lambda m: None, on_frame=lambda i, res: seen.append(res.after_frame))
    assert len(seen) == 2
    assert all(np.array_equal(f, cv2.flip(photo, 1) if mirrored else photo) for f in seen)


def test_files_are_not_mirrored_unless_asked(clip, tmp_path):
    from app.__main__ import parse_args, settings_from
    from app.run import run
    first = {}
    for flags in ([], ["--mirror"]):
        settings = settings_from(parse_args(["--source", str(clip), "--max-frames", "1", "--no-block", "--headless",
                                             *flags]))
        frames = []
        run(settings, log=lambda m: None, on_frame=lambda i, res, out=frames: out.append(res.after_frame))
        first[bool(flags)] = frames[0]
    assert np.array_equal(first[True], cv2.flip(first[False], 1)) and not np.array_equal(first[True], first[False])
