"""Frame sources for the webcam app: cameras, streams, video files, images and the built-in sample.

``open_source(spec)`` turns one command-line value into a :class:`Source`
(in the spirit of OpenCV's ``samples/python/video.py`` ``create_capture``):

``0``, ``"1"`` (an int or a digit string)
    A live camera, ``cv2.VideoCapture(index)``, read in its own thread that keeps
    only the latest frame. If it cannot be opened at start, one warning line is
    printed and the built-in sample plays instead (looping, paced in real time,
    like a camera). If the camera is lost later, ``lost`` turns True and the
    thread reconnects with backoff (0.1 s doubling to 1 s).
``"/dev/video2"``, ``"/dev/v4l/by-id/..."`` (a device path, Linux)
    That camera (a symlink is followed to its ``/dev/videoN``); an error if it cannot be opened.
``"cam:Logitech"`` (Linux)
    The camera whose name (``/sys/class/video4linux/videoN/name``, as ``--list-cameras`` prints
    it) contains ``Logitech``, case ignored; an error if none or several different ones do.
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

A camera asked for a capture size (``camera_size=(w, h)``) is set to it (CAP_PROP_FRAME_WIDTH/HEIGHT); when
the frames it delivers have another size, one line says so. ``list_cameras()`` probes indices 0..9 quietly.

A path that does not exist, a video OpenCV cannot read, an empty folder or an
unreadable image raises :class:`models.errors.UserError` naming the path.
Finite sources return None from ``read()`` once exhausted (``ended`` is then
True) unless ``loop=True``, which restarts them forever.
"""

from __future__ import annotations

import math
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from models.errors import UserError
from models.quiet import no_stderr, silent_opencv

from .frame import as_bgr
from .sample import MOTIONS, frames_for, ken_burns, sample_photos, seconds_list

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SYSFS_V4L = Path("/sys/class/video4linux")     # Linux: videoN/name is each camera's name
CAMERA_PREFIX = "cam:"                          # --source cam:NAME picks a camera by (part of) its name
PROBED = 10                                     # --list-cameras tries indices 0..PROBED-1


def print_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class Source:
    """Base class: ``read()`` the next BGR frame; None at the end (``ended``) or on a live timeout."""

    name: str = ""
    fps: float = 30.0
    live: bool = False
    frame_count: int | None = None
    ended: bool = False
    lost: bool = False
    camera: bool = False          # a local camera (mirrored by default, as a webcam's picture is expected to be)

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
        with silent_opencv():
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


def _open_capture(index_or_url: int | str, size: tuple[int, int] | None = None) -> cv2.VideoCapture:
    """The default camera/stream opener (OpenCV's own log lines silenced); `size` asks a camera for that
    capture size."""
    with silent_opencv():
        cap = cv2.VideoCapture(index_or_url)
        if cap.isOpened() and not _is_url(str(index_or_url)):
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued in the driver
            if size:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
    return cap


def camera_names(sysfs: Path | None = None) -> dict[int, tuple[str, int]]:
    """Linux: {N: (name, node index)} of /dev/videoN from sysfs (node index 0: the device's capture node; a
    webcam often has a second node, index 1, for metadata, under the same name). Elsewhere: {}."""
    sysfs = SYSFS_V4L if sysfs is None else sysfs
    out = {}
    try:
        entries = list(sysfs.iterdir())
    except OSError:
        return out
    for d in entries:
        m = re.fullmatch(r"video(\d+)", d.name)
        if not m:
            continue
        try:
            name = (d / "name").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        try:
            node = int((d / "index").read_text().strip())
        except (OSError, ValueError):
            node = 0
        out[int(m.group(1))] = (name, node)
    return dict(sorted(out.items()))


def list_cameras(opener: Callable[[int], object] | None = None, count: int = PROBED) -> list[tuple[int, str, str]]:
    """(index, "WxH", name) of each camera index 0..count-1 that opens and gives a frame; the name from sysfs
    on Linux ("" elsewhere). Probed quietly: nothing on stderr for the absent ones."""
    opener = opener or _open_capture
    names = camera_names()
    found = []
    with silent_opencv(), no_stderr():
        for i in range(count):
            cap = None
            try:
                cap = opener(i)
                if cap is None or not cap.isOpened():
                    continue
                ok, frame = cap.read()
                if ok and frame is not None:
                    size = f"{frame.shape[1]}x{frame.shape[0]}"
                else:
                    size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
                found.append((i, size, names.get(i, ("", 0))[0]))
            except Exception:
                continue
            finally:
                if cap is not None:
                    _release(cap)
    return found


def camera_list_text(cameras: list[tuple[int, str, str]]) -> str:
    """What --list-cameras prints."""
    if not cameras:
        return "no camera found"
    lines = [f"{i}  {size:>9}  {name}  (/dev/video{i})" if name else f"{i}  {size:>9}" for i, size, name in cameras]
    return "\n".join(lines)


def find_camera(pattern: str, sysfs: Path | None = None) -> int:
    """The index N (/dev/videoN) of the camera whose sysfs name contains `pattern` (case ignored): its capture
    node (node index 0) when it has several. A UserError when there is none, or several different cameras."""
    if not sys.platform.startswith("linux") and sysfs is None:
        raise UserError(f"--source {CAMERA_PREFIX}NAME needs Linux (camera names from {SYSFS_V4L}); use an index "
                        "(python -m app --list-cameras)")
    cameras = camera_names(sysfs)
    hits = {n: v for n, v in cameras.items() if pattern.lower() in v[0].lower()}
    listed = ", ".join(f"{n}: {name}" for n, (name, node) in cameras.items() if node == 0) or "none found"
    if not pattern or not hits:
        raise UserError(f"no camera named like {pattern!r} (cameras: {listed})")
    if len({name for name, _ in hits.values()}) > 1:
        several = ", ".join(f"{n}: {name}" for n, (name, node) in hits.items() if node == 0)
        raise UserError(f"{pattern!r} matches several cameras ({several}): say more of the name, or use an index")
    capture = [n for n, (_, node) in hits.items() if node == 0]
    return min(capture or hits)


def _device_index(spec: str) -> int | str:
    """A device path as the index OpenCV opens it by (/dev/video2 -> 2, a symlink to it followed); other
    device paths as they are."""
    if not _device_exists(spec):
        raise UserError(f"no such camera device: {spec}")
    m = re.fullmatch(r"/dev/video(\d+)", os.path.realpath(spec))
    return int(m.group(1)) if m else spec


def _device_exists(path: str) -> bool:
    return os.path.exists(path)


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

    def __init__(self, index_or_url: int | str, opener: Callable[[], object] | None = None,
                 size: tuple[int, int] | None = None, name: str | None = None, warn=print_to_stderr) -> None:
        self.index_or_url = index_or_url
        if isinstance(index_or_url, int):
            self.name = f"camera {index_or_url}"
        else:
            self.name = str(index_or_url)
        self.name = name or self.name
        self.camera = not _is_url(str(index_or_url))
        self.size, self._warn = (tuple(size) if size else None), warn   # the capture size asked for
        self._opener = opener or (lambda: _open_capture(index_or_url, self.size))
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
                    if self.size:
                        self._check_size(frame)
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

    def _check_size(self, frame: np.ndarray) -> None:
        """Once: the first frame's size against the size asked for."""
        got = (frame.shape[1], frame.shape[0])
        if got != self.size:
            self._warn(f"{self.name}: asked for {self.size[0]}x{self.size[1]}, it delivers {got[0]}x{got[1]}")
        self.size = None

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
                motions: Sequence[Sequence[float]] = MOTIONS, camera_size: tuple[int, int] | None = None) -> Source:
    """Open ``spec`` (camera index, device path, cam:NAME, URL, "sample", video file, image folder or image); see
    the module doc. An image or a folder of them plays with the camera moves ``motions`` (default
    ``app.sample.MOTIONS``); a camera is asked for ``camera_size`` (None: its own)."""
    if isinstance(spec, str) and spec.startswith(CAMERA_PREFIX):
        pattern = spec[len(CAMERA_PREFIX):].strip()
        index = find_camera(pattern)
        return CameraSource(index, size=camera_size, name=f"camera {index} ({camera_names()[index][0]})", warn=warn)
    if isinstance(spec, str) and spec.startswith("/dev/"):
        device = _device_index(spec)
        return CameraSource(device, size=camera_size, name=f"camera {spec}", warn=warn)
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        index = int(spec)
        try:
            return CameraSource(index, size=camera_size, warn=warn)
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
