"""Kiosk mode in a real window: a virtual X server (Xvfb) with a window manager (openbox), as at a booth.
Skipped where Xvfb, openbox, xwd or xdotool are not installed (.ci/run installs them)."""
import os
import shutil
import struct
import subprocess
import sys
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from app.kiosk_view import BG
from conftest import PHOTOS, ROOT

TOOLS = ("Xvfb", "openbox", "xwd", "xdotool")
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS), reason="needs " + ", ".join(TOOLS))
LETTERBOX = (239, 239, 239)     # Qt's window background, around an image of another aspect than the screen


def read_xwd(data: bytes) -> np.ndarray:
    """A 24/32-bit XWD image (xwd's output, Xvfb's -fbdir framebuffer) as BGR."""
    header_size, _, _, _, w, h, _, byte_order = struct.unpack(">8I", data[:32])
    bits_per_pixel, bytes_per_line = struct.unpack(">2I", data[44:52])
    ncolors = struct.unpack(">I", data[76:80])[0]
    assert bits_per_pixel in (24, 32), bits_per_pixel      # Xvfb at depth 24 mostly gives 32, sometimes 24
    n = bits_per_pixel // 8
    px = np.frombuffer(data, np.uint8, bytes_per_line * h, header_size + 12 * ncolors).reshape(h, bytes_per_line)
    px = px[:, :n * w].reshape(h, w, n)
    return px[..., :3].copy() if byte_order == 0 else px[..., n - 3:][..., ::-1].copy()


@pytest.fixture(params=[(1920, 1080), (1280, 720)], ids=["1920x1080", "1280x720"])
def screen(request, tmp_path):
    w, h = request.param
    fb = tmp_path / "fb"
    fb.mkdir()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", f"{w}x{h}x24", "-fbdir", str(fb),
                             "-nolisten", "tcp"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    num = xvfb.stdout.readline().strip()               # a free display number, once the server is ready
    env = {**os.environ, "DISPLAY": f":{num}"}
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield SimpleNamespace(size=(w, h), env=env, fb=fb / "Xvfb_screen0", dir=tmp_path)
    for proc in (wm, xvfb):
        proc.terminate()
        proc.wait(timeout=10)


def _shot(screen) -> np.ndarray:
    """What X clients see (xwd; the pointer is never in it)."""
    return read_xwd(subprocess.run(["xwd", "-root", "-silent"], env=screen.env, capture_output=True,
                                   check=True).stdout)


def _pointer_drawn(screen, at) -> bool:
    """Xvfb draws the pointer into its framebuffer in software, but not into xwd's picture: where the two
    differ around the pointer, it is visible."""
    x, y = at
    frame, seen = read_xwd(screen.fb.read_bytes()), _shot(screen)
    return bool((frame[y:y + 24, x:x + 24] != seen[y:y + 24, x:x + 24]).any())


def coverage(img: np.ndarray) -> float:
    """Share of the screen inside the canvas: rows and columns that are all letterbox (or bare root window)
    are outside it."""
    empty = (img == LETTERBOX).all(axis=2) | (img == 0).all(axis=2)
    rows, cols = empty.all(axis=1), empty.all(axis=0)
    return (1 - rows.mean()) * (1 - cols.mean())


def label_height(img: np.ndarray) -> int:
    """Height in pixels of the BEFORE label's white letters ("hen 94%": no descenders): the tallest run of rows,
    in the upper half of the left half, that are mostly the kiosk's background and hold white text pixels."""
    H, W = img.shape[:2]
    half = img[:H // 2, :W // 2].astype(int)
    background = (np.abs(half - BG).max(axis=2) <= 4).mean(axis=1) >= 0.5
    text = (half.min(axis=2) >= 200).sum(axis=1) >= 3
    best = run = 0
    for row in background & text:
        run = run + 1 if row else 0
        best = max(best, run)
    return best


def test_kiosk_covers_the_screen_with_labels_readable_from_3_m_and_no_pointer(screen):
    W, H = screen.size
    pointer = (20, H - round(0.05 * H))                  # over the explanation strip's plain left end
    subprocess.run(["xdotool", "mousemove", str(pointer[0]), str(pointer[1])], env=screen.env, check=True)
    time.sleep(0.3)
    assert _pointer_drawn(screen, pointer)               # the check can see a pointer when there is one
    proc = subprocess.Popen([sys.executable, "-m", "app", "--kiosk", "--source", str(PHOTOS / "hens.jpg")],
                            cwd=ROOT, env=screen.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, shot = time.time() + 120, None
        while time.time() < deadline and proc.poll() is None:
            time.sleep(1.0)
            shot = _shot(screen)
            if coverage(shot) > 0.99 and label_height(shot) > 0:
                time.sleep(2.0)                          # a few frames more: labels and block settled
                shot = _shot(screen)
                break
        assert proc.poll() is None, proc.communicate()[1]
        cv2.imwrite(str(screen.dir / f"kiosk-{W}x{H}.png"), shot)
        cov, label = coverage(shot), label_height(shot)
        print(f"{W}x{H}: canvas covers {cov:.1%} of the screen; label {label} px = 1/{H / label:.1f} of its height")
        assert cov >= 0.99, cov
        assert label >= H / 12, (label, H / 12)
        assert not _pointer_drawn(screen, pointer)       # hidden while the kiosk runs
        subprocess.run(["xdotool", "key", "q"], env=screen.env, check=True)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    time.sleep(0.3)
    assert _pointer_drawn(screen, pointer)               # and back once it has quit
