"""A clean terminal: OpenCV's and FFmpeg's own log lines never reach it, only the app's own lines.

The app runs as a subprocess, so what FFmpeg and OpenCV write to the real fd 2 is captured too. A phone used
as a webcam is played as MJPEG over HTTP from a loopback server that drops mid-run and comes back.
"""
import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import cv2

from conftest import PHOTOS, ROOT

FOREIGN = ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL", "OPENCV_VIDEOIO_DEBUG", "OPENCV_FFMPEG_DEBUG")


def _app(*args, timeout=180):
    """`python -m app ARGS` with the environment a user has (this process's models.quiet set variables)."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _foreign_lines(text):
    """Lines OpenCV or FFmpeg wrote: `[tcp @ 0x...] ...`, `[ WARN:0@1.2] ...`, `OpenCV(5.0.0) ... cv::...`."""
    return [x for x in text.splitlines() if x.startswith("[") or "WARN" in x or "cv::" in x or "OpenCV(" in x]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MjpegServer:
    """multipart/x-mixed-replace JPEG frames at 30 fps on 127.0.0.1:port, as phone webcam apps serve them.
    The first `first_frames` frames are all it sends before `done_first` is set and the connection closes."""

    def __init__(self, port, first_frames):
        self.port, self.limit, self.sent = port, first_frames, 0
        self.done_first = threading.Event()
        self.stopping = threading.Event()
        image = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        self.httpd = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not owner.stopping.is_set():
                        if owner.limit is not None and owner.sent >= owner.limit:
                            owner.done_first.set()
                            return
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(owner.jpeg) + owner.jpeg + b"\r\n")
                        owner.sent += 1
                        time.sleep(1 / 30)
                except OSError:          # the app went away
                    pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.stopping.clear()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()          # connections are refused from now on


def test_a_stream_that_drops_and_comes_back_prints_only_the_apps_lines():
    port = _free_port()
    server = MjpegServer(port, first_frames=30)          # 1 s of frames, then it drops
    server.start()
    result = {}
    app = threading.Thread(target=lambda: result.update(out=_app(
        "--source", f"http://127.0.0.1:{port}/video", "--headless", "--max-frames", "45", "--quiet")))
    app.start()
    try:
        deadline = time.monotonic() + 150
        while not server.done_first.wait(0.2) and app.is_alive() and time.monotonic() < deadline:
            pass
        assert server.done_first.is_set(), result.get("out")
        server.stop()
        time.sleep(2.0)                                  # the app retries against a closed port
        server.limit = None
        server.start()                                   # back, with as many frames as the app wants
        app.join(150)
    finally:
        server.stop()
    out = result["out"]
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert "camera lost: reconnecting" in lines and "camera back" in lines, out.stderr
    assert lines.index("camera lost: reconnecting") < lines.index("camera back")
    assert _foreign_lines(out.stderr) == [] and _foreign_lines(out.stdout) == [], out.stderr


def test_a_corrupt_video_file_prints_only_the_error_line(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00garbage" * 500)           # FFmpeg: "moov atom not found" if it may speak
    out = _app("--source", str(broken), "--headless", "--max-frames", "2", "--quiet")
    assert out.returncode == 2
    assert out.stderr == f"error: cannot read video file (unsupported or corrupt): {broken}\n"


def test_a_camera_that_is_not_there_prints_only_the_apps_warning():
    out = _app("--source", "9", "--headless", "--max-frames", "2", "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stderr == "warning: camera 9 cannot be opened; playing the built-in sample instead\n"
