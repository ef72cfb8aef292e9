"""Frame sources for the webcam app: cameras, streams, video files, images and the built-in sample.

``open_source(spec)`` turns one command-line value into a :class:`Source`
(in the spirit of OpenCV's ``samples/python/video.py`` ``create_capture``):

``0``, ``"1"`` (an int or a digit string)
    A live camera, ``cv2.VideoCapture(index)``, read in its own thread that keeps
    only the latest frame. If it cannot be opened at start, one warning line is
    printed and the built-in sample plays instead (looping, paced in real time,
    like a camera). If the camera is lost later, ``lost`` turns True and the
    thread reconnects with backoff (0.1 s doubling to 1 s).
``"rtsp://..."``, ``"http://..."`` (any ``scheme://``)
    A live network stream, handled like a camera (an error if it cannot be opened).
``"sample"``
    The embedded default: a smooth, deterministic pan/zoom/rotate clip made from
    the photos in ``app/sample/`` (hens ~6 s, then duck and panda ~3 s each,
    crossfaded), rendered at ``size`` and ``fps``; about 12 s per pass.
a video file
    Every frame in order, none dropped, at the file's native size; with
    ``realtime=True`` ``read()`` sleeps to keep the file's own fps.
a folder of images (jpg, jpeg, png, bmp, webp) or one image
    Played as a clip with the same pan/zoom generator (:func:`app.sample.ken_burns`), ~3 s each.

A path that does not exist, a video OpenCV cannot read, an empty folder or an
unreadable image raises :class:`models.errors.UserError` naming the path.
Finite sources return None from ``read()`` once exhausted (``ended`` is then
True) unless ``loop=True``, which restarts them forever.
"""

from __future__ import annotations

import contextlib
import math
import sys
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from models.errors import UserError

from .frame import as_bgr
from .sample import MOTIONS, frames_for, ken_burns, sample_photos, seconds_list

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's own log lines (camera probing prints several) for a moment."""
    old = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(old)


class Source:
    """Base class: ``read()`` the next BGR frame; None at the end (``ended``) or on a live timeout."""

    name: str = ""
    fps: float = 30.0
    live: bool = False
    frame_count: int | None = None
    ended: bool = False
    lost: bool = False

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        self.ended = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} fps={self.fps:g}>"


class _Pacer:
    """Sleeps so frames come out at ``fps`` (skips ahead instead of bursting after a long stall)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.next_time = None

    def wait(self) -> None:
        now = time.monotonic()
        if self.next_time is None or now - self.next_time > 1.0:
            self.next_time = now
        elif self.next_time > now:
            time.sleep(self.next_time - now)
        self.next_time += self.period


class ClipSource(Source):
    """A finite synthetic clip: ``make_pass()`` returns an iterator over one pass of frames."""

    def __init__(self, name: str, make_pass: Callable[[], Iterable[np.ndarray]], frame_count: int,
                 fps: float = 30.0, loop: bool = False, realtime: bool = False) -> None:
        self.name, self.fps, self.frame_count = name, float(fps), frame_count
        self.loop = loop
        self._make_pass = make_pass
        self._frames = iter(make_pass())
        self._pacer = _Pacer(self.fps) if realtime else None

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        if self.ended:
            return None
        frame = next(self._frames, None)
        if frame is None and self.loop:
            self._frames = iter(self._make_pass())
            frame = next(self._frames, None)
        if frame is None:
            self.ended = True
            return None
        if self._pacer:
            self._pacer.wait()
        return frame


class Prefetch(Source):
    """Reads a finite source ahead in a daemon thread (a queue of ``depth`` frames), so that making the next
    frame (decoding a file, warping the sample) overlaps the work on this one. Every frame, in order."""

    def __init__(self, source: Source, depth: int = 2) -> None:
        self.source = source
        self.name, self.fps, self.frame_count = source.name, source.fps, source.frame_count
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"prefetch {self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is not None:
                    self._put(frame)
                elif self.source.ended:
                    break
        except BaseException as exc:  # handed to the reader, never lost in the thread
            self._error = exc
        self._put(None)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        if self.ended:
            return None
        try:
            frame = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        if frame is None:
            self.ended = True
            if self._error is not None:
                raise self._error
        return frame

    def close(self) -> None:
        self.ended = True
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self.source.close()


def image_clip(name: str, images: Sequence, size: tuple[int, int] = (640, 480), fps: float = 30.0,
               seconds_each: float | Sequence[float] = 3.0, loop: bool = False,
               realtime: bool = False, motions: Sequence[Sequence[float]] = MOTIONS) -> ClipSource:
    """A :class:`ClipSource` playing ``images`` through :func:`ken_burns` (camera moves ``motions``)."""
    size = (int(size[0]), int(size[1]))
    count = sum(frames_for(s, fps) for s in seconds_list(len(images), seconds_each))
    return ClipSource(name, lambda: ken_burns(images, size, fps, seconds_each, motions=motions), count, fps, loop,
                      realtime)


def sample_source(size: tuple[int, int] = (640, 480), fps: float = 30.0, loop: bool = False,
                  realtime: bool = False) -> ClipSource:
    """The built-in sample: hens (the star, ~6 s), then duck and panda (~3 s each)."""
    paths, seconds = sample_photos()
    return image_clip("sample", paths, size, fps, seconds, loop, realtime)


def _sane_fps(value: float, default: float = 30.0) -> float:
    return float(value) if value and math.isfinite(value) and 0 < value <= 1000 else default


class VideoFileSource(Source):
    """Every frame of a video file in order (none dropped), at its native size."""

    def __init__(self, path: str | Path, loop: bool = False, realtime: bool = False) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.loop = loop
        self._cap = self._open()
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise UserError(f"cannot read video file (unsupported or corrupt): {self.path}")
        self._pending = first
        self.fps = _sane_fps(self._cap.get(cv2.CAP_PROP_FPS))
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None  # as the container reports it
        self._pacer = _Pacer(self.fps) if realtime else None

    def _open(self) -> cv2.VideoCapture:
        with _quiet_opencv():
            cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise UserError(f"cannot read video file (unsupported or corrupt): {self.path}")
        return cap

    def _next(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        ok, frame = self._cap.read()
        return frame if ok else None

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        if self.ended:
            return None
        frame = self._next()
        if frame is None and self.loop:
            self._cap.release()
            self._cap = self._open()
            frame = self._next()
        if frame is None:
            self.close()
            return None
        if self._pacer:
            self._pacer.wait()
        return as_bgr(frame)

    def close(self) -> None:
        self.ended = True
        self._cap.release()


def _open_capture(index_or_url: int | str) -> cv2.VideoCapture:
    """The default camera/stream opener (OpenCV's own log lines silenced)."""
    with _quiet_opencv():
        cap = cv2.VideoCapture(index_or_url)
        if cap.isOpened() and isinstance(index_or_url, int):
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued in the driver
    return cap


class CameraSource(Source):
    """A live camera or stream read by a daemon thread that keeps only the latest frame.

    ``read(timeout)`` returns a frame newer than the last one it returned, or None if
    none came within ``timeout``. When reads fail for ``lost_after`` seconds (or the
    device vanishes) ``lost`` turns True, the capture is released and reopened with
    backoff (0.1 s doubling, at most 1 s); ``lost`` turns False with the next frame.
    ``opener()`` must return a capture-like object with ``isOpened()``, ``read()`` and
    ``release()``; by default it is ``cv2.VideoCapture(index_or_url)``. If the first
    open fails, the constructor raises UserError.
    """

    live = True
    lost_after = 0.5  # seconds of failed reads before the camera counts as lost
    stall_after = 3.0  # seconds without any frame (e.g. a hung read) that also count as lost
    max_backoff = 1.0

    def __init__(self, index_or_url: int | str, opener: Callable[[], object] | None = None) -> None:
        self.index_or_url = index_or_url
        if isinstance(index_or_url, int):
            self.name = f"camera {index_or_url}"
        else:
            self.name = str(index_or_url)
        self._opener = opener or (lambda: _open_capture(index_or_url))
        cap = self._try_open()
        if cap is None:
            raise UserError(f"{self.name} cannot be opened")
        get = getattr(cap, "get", None)
        self.fps = _sane_fps(get(cv2.CAP_PROP_FPS)) if get else 30.0
        self._cap = cap
        self._lost = False
        self._frame: np.ndarray | None = None
        self._seq = 0  # number of frames received
        self._returned = 0  # seq of the last frame read() returned
        self._last_frame_time = time.monotonic()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture {self.name}", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> bool:
        return self._lost or time.monotonic() - self._last_frame_time > self.stall_after

    def _try_open(self):
        try:
            cap = self._opener()
            if cap is not None and cap.isOpened():
                return cap
            if cap is not None:
                cap.release()
        except Exception:
            pass
        return None

    def _run(self) -> None:
        backoff = 0.1
        failing_since = None
        cap = self._cap
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap = self._try_open()
                    if cap is None:
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, self.max_backoff)
                        continue
                    backoff, failing_since = 0.1, None
                try:
                    ok, frame = cap.read()
                except Exception:
                    ok, frame = False, None
                if ok and frame is not None:
                    failing_since = None
                    frame = as_bgr(frame)
                    with self._cond:
                        self._frame = frame
                        self._seq += 1
                        self._last_frame_time = time.monotonic()
                        self._lost = False
                        self._cond.notify_all()
                    continue
                now = time.monotonic()
                if failing_since is None:
                    failing_since = now
                if now - failing_since >= self.lost_after:
                    self._lost = True
                    _release(cap)
                    cap = None
                    backoff = 0.1
                else:
                    self._stop.wait(0.01)  # failing reads often return at once: don't spin
        except Exception:  # never let the thread die with a traceback
            self._lost = True
        finally:
            if cap is not None:
                _release(cap)

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq == self._returned and not self.ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self.ended:
                return None
            self._returned = self._seq
            return self._frame

    def close(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify_all()
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


def _release(cap) -> None:
    try:
        cap.release()
    except Exception:
        pass


def _is_url(spec: str) -> bool:
    return "://" in spec and spec.split("://", 1)[0].isalpha()


def open_source(spec: str | int, size: tuple[int, int] = (640, 480), loop: bool = False,
                realtime: bool = False, fps: float = 30.0, warn=print_to_stderr,
                motions: Sequence[Sequence[float]] = MOTIONS) -> Source:
    """Open ``spec`` (camera index, URL, "sample", video file, image folder or image); see the module doc.
    An image or a folder of them plays with the camera moves ``motions`` (default ``app.sample.MOTIONS``)."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        try:
            return CameraSource(index)
        except UserError:
            warn(f"warning: camera {index} cannot be opened; playing the built-in sample instead")
            return sample_source(size, fps, loop=True, realtime=True)  # stands in for a camera
    spec = str(spec)
    if spec == "sample":
        return sample_source(size, fps, loop, realtime)
    if _is_url(spec):
        return CameraSource(spec)
    path = Path(spec).expanduser()
    if not path.exists():
        raise UserError(f"no such file or folder: {spec}")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if not images:
            raise UserError(f"no images ({', '.join(IMAGE_EXTS)}) in folder: {spec}")
        for p in images:
            if not cv2.haveImageReader(str(p)):
                raise UserError(f"cannot read image: {p}")
        return image_clip(path.name or spec, images, size, fps, 3.0, loop, realtime, motions)
    if path.suffix.lower() in IMAGE_EXTS:
        if cv2.imread(str(path)) is None:
            raise UserError(f"cannot read image: {spec}")
        return image_clip(path.name, [path], size, fps, 3.0, loop, realtime, motions)
    return VideoFileSource(path, loop, realtime)
