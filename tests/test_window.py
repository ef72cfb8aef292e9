"""The real window, under a virtual X server (skipped where Xvfb is not installed)."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import PHOTOS, ROOT

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed")


@pytest.fixture
def display():
    proc = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    num = proc.stdout.readline().strip()       # a free display, printed once the server is ready
    yield f":{num}"
    proc.terminate()
    proc.wait(timeout=10)


def _app(display, *args):
    env = {**os.environ, "DISPLAY": display}
    return subprocess.Popen([sys.executable, "-m", "app", "--source", str(PHOTOS / "hens.jpg"), "--loop", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_window_opens_runs_and_closes(display):
    proc = _app(display, "--max-frames", "15")
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    assert "frames   15" in out
    assert "Traceback" not in err and "QFontDatabase" not in err


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool not installed")
def test_keys_reach_the_window(display, tmp_path):
    snaps = tmp_path / "snaps"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"record:\n  snapshot_dir: {snaps}\n")
    proc = _app(display, "--config", str(cfg), "--max-frames", "100000")
    env = {**os.environ, "DISPLAY": display}
    deadline = time.time() + 120
    wid = ""
    while time.time() < deadline and not wid:
        wid = subprocess.run(["xdotool", "search", "--name", "chicken-saviour"], env=env, capture_output=True,
                             text=True).stdout.split()
        time.sleep(0.5)
    assert wid, "no window appeared"
    time.sleep(2)
    for key in ("h", "s", "q"):
        subprocess.run(["xdotool", "windowfocus", wid[0]], env=env, capture_output=True)   # no window manager here
        subprocess.run(["xdotool", "key", key], env=env, capture_output=True)
        time.sleep(1.0)
    out, err = proc.communicate(timeout=60)            # q quits long before 100000 frames
    assert proc.returncode == 0, err
    assert len(list(snaps.glob("snapshot-*.png"))) == 1


def test_a_window_plays_a_video_file_at_its_own_rate(display, tmp_path):
    """In a window a file plays at its frame rate (headless runs and --fast take every frame at once); with
    --no-loop the window ends with it (by default a window loops it)."""
    import cv2
    import numpy as np

    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    photo = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))
    for i in range(20):
        writer.write(np.roll(photo, 4 * i, axis=1))
    writer.release()
    env = {**os.environ, "DISPLAY": display}
    out = subprocess.run([sys.executable, "-m", "app", "--source", str(clip), "--no-loop"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180).stdout
    seconds = float(out.split(" in ")[1].split(" s")[0])          # "frames   20 in 2.1 s (9.6 FPS)"
    assert "frames   20" in out and seconds >= 1.8, out            # 20 frames at 10 fps: 2 s


def test_letterbox_bars_are_black_and_the_buffer_is_reused():
    import numpy as np

    from app.display import Letterbox

    box = Letterbox()
    canvas = np.full((100, 400, 3), 200, np.uint8)            # 4:1 on a 16:9 window: bars above and below
    board = box(canvas, (1600, 900))
    assert board.shape == (900, 1600, 3)
    assert (board[:240] == 0).all() and (board[-240:] == 0).all() and (board[260:640] == 200).all()
    again = box(np.full((100, 400, 3), 90, np.uint8), (1600, 900))
    assert again is board and (board[:240] == 0).all() and (board[450] == 90).all()
    tall = box(np.full((300, 100, 3), 50, np.uint8), (1600, 900))   # another aspect: the old picture goes
    assert (tall[:, :640] == 0).all() and (tall[:, 660:940] == 50).all()


TOOLS = ("openbox", "xwd", "xdotool")


@pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason="needs " + ", ".join(TOOLS))
def test_fullscreen_bars_are_black(tmp_path):
    """Fullscreen under a window manager: the canvas (2:1 here) on a 16:9 screen has black bars, not the
    window's light grey."""
    from test_kiosk_window import read_xwd

    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1600x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = {**os.environ, "DISPLAY": f":{xvfb.stdout.readline().strip()}"}
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ui:\n  fullscreen: true\n")
    app = subprocess.Popen([sys.executable, "-m", "app", "--config", str(cfg), "--source", str(PHOTOS / "hens.jpg"),
                            "--max-frames", "100000"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:                       # the model loads, the window opens, goes fullscreen
            time.sleep(1.0)
            shot = read_xwd(subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True,
                                           check=True).stdout)
            if shot[300:600].std() > 20 and shot[:60].max() < 16:
                break
        time.sleep(1.0)
        shot = read_xwd(subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True, check=True).stdout)
        import cv2
        cv2.imwrite(str(tmp_path / "fullscreen.png"), shot)
        assert shot.shape[:2] == (900, 1600)
        top, bottom = shot[:60], shot[-60:]
        assert (top.max(axis=2) < 16).mean() > 0.99 and (bottom.max(axis=2) < 16).mean() > 0.99, (
            top.reshape(-1, 3).mean(0), bottom.reshape(-1, 3).mean(0))
        assert shot[300:600].std() > 20                          # the picture is there between the bars
    finally:
        subprocess.run(["xdotool", "key", "q"], env=env, capture_output=True)
        try:
            app.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.communicate()
        for proc in (wm, xvfb):
            proc.terminate()
            proc.wait(timeout=10)
    assert app.returncode == 0
