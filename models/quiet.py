"""OpenCV's and FFmpeg's own log lines stay off the terminal; the app says what matters in its own words.

Imported first by the ``models`` and ``app`` packages, so before anything here imports cv2. Without it a
stream that drops and reconnects prints FFmpeg's ``[tcp @ 0x…] Connection refused`` on every retry,
and a missing camera OpenCV's ``[ WARN:0@…]`` lines.

- ``OPENCV_FFMPEG_LOGLEVEL=-8`` (AV_LOG_QUIET): OpenCV's FFmpeg backend passes it to ``av_log_set_level``
  when it first opens a capture (otherwise it sets AV_LOG_ERROR, which lets the lines above through).
- ``OPENCV_LOG_LEVEL=SILENT``: OpenCV's own logger. It is read when cv2 is imported, so if a script
  imported cv2 first, the level is set through ``cv2.utils.logging`` instead.

Either variable set in the environment wins (e.g. ``OPENCV_LOG_LEVEL=INFO OPENCV_FFMPEG_LOGLEVEL=32
python -m app ...`` to see them again). Errors still reach the user as exceptions, which the app words.
"""
import contextlib
import os
import sys

_USER_SET_OPENCV = "OPENCV_LOG_LEVEL" in os.environ
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

if "cv2" in sys.modules and not _USER_SET_OPENCV:       # too late for the variable: set the level itself
    _logging = getattr(getattr(sys.modules["cv2"], "utils", None), "logging", None)
    if _logging is not None:
        _logging.setLogLevel(_logging.LOG_LEVEL_SILENT)


@contextlib.contextmanager
def silent_opencv():
    """OpenCV's own logger silent for a moment (camera probing and codec probes print several lines)."""
    import cv2

    old = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(old)


@contextlib.contextmanager
def no_stderr():
    """Nothing reaches file descriptor 2 for a moment: camera backends and a failed codec probe print from C,
    past OpenCV's logger."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
