"""Record the app's canvas to a video or animated image, and save snapshots.

Formats, chosen by the output's extension. Videos are written at the canvas's full size; only the
animated formats are scaled down (to ``anim_width``, 800 px by default) and thinned to ``anim_fps``.

``.mp4``
    H.264 (High profile, yuv420p, ``+faststart``): plays in every browser, chat app and
    phone. Streamed to disk by PyAV's libx264 (the ``av`` package, FFmpeg's own libraries in
    its wheel) at CRF 23, preset ``superfast``, one encoder thread, on the recorder's thread (beside the
    classifier rather than against it: 26 FPS in scripts/bench.py with an MP4 recording, 23 with veryfast on
    every core, 27 for MPEG-4 part 2). Without PyAV it
    falls back to ``cv2.VideoWriter`` (FFmpeg), fourcc ``avc1`` if this OpenCV build can
    encode it, else ``mp4v`` (MPEG-4 part 2, which browsers do not play), and says so once.
    Sizes are rounded down to even numbers, which the codecs need.
``.avi``
    Streamed by ``cv2.VideoWriter`` with MJPG.
``.gif``, ``.webp`` (animated)
    Written by ``cv2.imwriteanimation`` at ``close()``. OpenCV has no streaming
    writer for these: FFmpeg's gif encoder refuses the yuv420p frames OpenCV's
    VideoWriter feeds it, and the CV_IMAGES backend only writes numbered stills.
    So the frames are buffered in memory, kept bounded: only every k-th frame is kept
    (k = round(fps / anim_fps); 30 fps -> 10 fps), scaled to ``anim_width``, and at most
    ``anim_max_frames`` (default 300) of them. When the buffer is full every other
    frame is dropped, only every 2k-th (then 4k-th, ...) new frame is kept and each
    kept frame lasts twice as long, so the whole run stays represented at a lower
    frame rate. 300 frames of 800x322 are ~230 MB.

    A GIF gets one palette of ``GIF_COLORS`` colours for the whole clip, chosen by k-means on
    a sample of its pixels, and no dithering: dithering noise and per-frame palettes cost
    LZW far more than they add. ``python -m scripts.bench_record``, a 10 s side-by-side GIF of the
    sample at 800 px and 10 fps: 7.7 MB this way (mean error 5.1 grey levels); OpenCV's
    default dithered 3-3-2 palette 12.0 MB (error 15.6), its octree palette 8.3 MB (5.9,
    visibly posterised); 15 fps would take 11.8 MB. WebP is lossy at ``webp_quality``
    (75: 3.4 MB for the same clip, error 3.8; 5.0 MB at 15 fps).

Nothing is lost or half-written: frames go to a temporary file in the same folder
(``.NAME.part-XXXX.EXT``, real extension last so the container is right), which
``close()`` moves onto the final path with ``os.replace``. ``close()`` is idempotent
and safe in ``finally``; with zero frames it leaves no file and returns None.
A path that cannot be written or has an unknown extension raises
:class:`models.errors.UserError` in the constructor, before the run starts.
"""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from models.errors import UserError
from models.quiet import no_stderr, silent_opencv

from .frame import as_bgr

VIDEO_FOURCCS = {".mp4": ("avc1", "mp4v"), ".avi": ("MJPG",)}
H264 = {"crf": "23", "preset": "superfast"}   # libx264: visually clean for a screen recording, ~real time
ANIMATED = (".gif", ".webp")
SUPPORTED = tuple(VIDEO_FOURCCS) + ANIMATED
ANIM_WIDTH = 800      # default width of GIF/WebP recordings
GIF_COLORS = 64       # one palette for the whole GIF

_fourcc_cache: dict[str, str] = {}  # extension -> fourcc that opened (probing avc1 is noisy)


def _temp_in(folder: Path, name: str, ext: str, what: str) -> Path:
    """Create an empty temporary file next to the final one; UserError if the folder is unusable."""
    _writable_folder(folder / name, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.part-", suffix=ext, dir=folder)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    except OSError as e:
        raise UserError(f"cannot write {what} {folder / name}: {e.strerror or e}") from None
    return Path(tmp)


def _writable_folder(path: Path, what: str) -> None:
    """UserError naming the real problem when a folder on the way to `path` is a file (mkdir would only
    say "File exists")."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            raise UserError(f"cannot write {what} {path}: {parent} is a file, not a folder")


def check_path(path: str | Path) -> str:
    """The recording's extension; UserError for one no recorder writes, or a folder (checked before a camera
    or file is opened: nothing is created)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED:
        raise UserError(f"cannot record to {path}: unknown extension {ext or '(none)'!r}"
                        f" (supported: {', '.join(SUPPORTED)})")
    if path.is_dir():
        raise UserError(f"cannot record to {path}: it is a folder")
    return ext


def h264_available() -> bool:
    """PyAV with FFmpeg's libx264 encoder is installed (the .mp4 recordings are then H.264)."""
    try:
        import av
    except ImportError:
        return False
    return "libx264" in av.codecs_available


class _H264Writer:
    """A stream of BGR frames into an H.264 .mp4 through PyAV (libx264, yuv420p)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import fractions

        import av

        self._av = av
        self._out = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        rate = fractions.Fraction(fps).limit_denominator(1001)
        self._stream = self._out.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = dict(H264)
        self._stream.thread_count = 1          # beside the classifier, not against it

    def write(self, frame: np.ndarray) -> None:
        for packet in self._stream.encode(self._av.VideoFrame.from_ndarray(frame, format="bgr24")):
            self._out.mux(packet)

    def release(self) -> None:
        for packet in self._stream.encode():
            self._out.mux(packet)
        self._out.close()


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _pick_fourcc(ext: str, probe_path: Path, fps: float) -> str | None:
    """The first fourcc in VIDEO_FOURCCS[ext] that OpenCV can open a writer with."""
    if ext in _fourcc_cache:
        return _fourcc_cache[ext]
    for code in VIDEO_FOURCCS[ext]:
        with silent_opencv(), no_stderr():
            writer = cv2.VideoWriter(str(probe_path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*code), fps, (64, 64))
            ok = writer.isOpened()
            writer.release()
        if ok:
            _fourcc_cache[ext] = code
            return code
    return None


def _gif_palette(frames: list[np.ndarray], colors: int) -> np.ndarray:
    """Up to `colors` BGR colours for all `frames`: k-means on ~200k of their pixels (or the colours
    themselves when there are no more than that)."""
    rng = np.random.default_rng(0)
    per = max(1, 200_000 // len(frames))
    sample = np.concatenate([f.reshape(-1, 3)[rng.integers(0, f.shape[0] * f.shape[1], per)] for f in frames])
    packed = np.unique(sample.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1]))
    if len(packed) <= colors:
        return np.stack([packed >> 16, packed >> 8 & 255, packed & 255], 1).astype(np.uint8)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 20, 0.5)
    _, _, centers = cv2.kmeans(sample.astype(np.float32), colors, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    return np.clip(centers.round(), 0, 255).astype(np.uint8)


def _to_palette(frames: list[np.ndarray], palette: np.ndarray) -> None:
    """Replace every pixel of `frames` (in place) by its nearest palette colour, through a table over
    6 bits per channel (no dithering: its noise costs GIF's LZW far more than it adds)."""
    grid = (np.indices((64, 64, 64)).reshape(3, -1).T * 4 + 2).astype(np.float32)     # b, g, r cell centres
    pal = palette.astype(np.float32)
    lut = np.concatenate([(pal ** 2).sum(1) - 2 * chunk @ pal.T for chunk in np.split(grid, 16)]).argmin(1)
    colours = palette[lut]
    for f in frames:
        f[:] = colours[(f[..., 0] >> 2).astype(np.int32) << 12 | (f[..., 1] >> 2).astype(np.int32) << 6
                       | f[..., 2] >> 2]


class Recorder:
    """Write canvases (BGR uint8) to ``path`` (.mp4, .avi, .gif or .webp); see the module doc.

    All frames get the size of the first one: the canvas's for videos (rounded down to even sides), scaled to
    ``anim_width`` for GIF/WebP (0: the canvas's width). ``frames`` counts ``write()`` calls.
    """

    def __init__(self, path: str | Path, fps: float, anim_width: int = ANIM_WIDTH, anim_fps: float = 10.0,
                 anim_max_frames: int = 300, webp_quality: int = 75) -> None:
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.ext = check_path(self.path)
        self.animated = self.ext in ANIMATED
        self.max_width = anim_width if self.animated else 0
        self.anim_max_frames = max(2, int(anim_max_frames))
        self.webp_quality = int(webp_quality)
        self.frames = 0
        self._tmp = _temp_in(self.path.parent, self.path.name, self.ext, "recording")
        self._size: tuple[int, int] | None = None
        self._writer: cv2.VideoWriter | None = None
        self._buffer: list[np.ndarray] = []  # animated formats: the kept frames
        # animated formats: keep every stride-th frame, at most anim_fps of them a second
        self._stride = max(1, math.ceil(self.fps / anim_fps - 1e-6)) if self.animated else 1
        self._done = False
        self._result: Path | None = None
        self._fourcc = None
        self.h264 = self.ext == ".mp4" and h264_available()
        if not self.animated and not self.h264:
            self._fourcc = _pick_fourcc(self.ext, self._tmp, self.fps)
            if self._fourcc is None:
                _unlink(self._tmp)
                raise UserError(f"cannot record to {self.path}: this OpenCV cannot encode {self.ext} video")

    def _frame_size(self, w: int, h: int) -> tuple[int, int]:
        if self.max_width and w > self.max_width:
            h, w = max(1, round(h * self.max_width / w)), self.max_width
        if not self.animated:  # video codecs want even sizes
            w, h = max(2, w - w % 2), max(2, h - h % 2)
        return w, h

    @property
    def codec(self) -> str:
        """What the file holds: "h264", the OpenCV fourcc ("mp4v", "MJPG"...), "gif" or "webp"."""
        return "h264" if self.h264 else self._fourcc or self.ext[1:]

    def write(self, canvas) -> None:
        """Add one frame: a BGR canvas, or a function drawing it (called only for frames the recording
        keeps: an animated recording keeps every stride-th)."""
        if self._done:
            raise ValueError(f"recorder for {self.path} is closed")
        if callable(canvas):
            if self.animated and self.frames % self._stride:
                self.frames += 1
                return
            canvas = canvas()
        frame = as_bgr(canvas)
        if self._size is None:
            self._size = self._frame_size(frame.shape[1], frame.shape[0])
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        if self.animated:
            if self.frames % self._stride == 0:
                self._buffer.append(frame.copy() if frame is canvas else frame)
                if len(self._buffer) > self.anim_max_frames:
                    self._buffer = self._buffer[::2]
                    self._stride *= 2
        else:
            if self._writer is None:
                self._writer = self._open_writer()
            self._writer.write(frame)
        self.frames += 1

    def _open_writer(self):
        if self.h264:
            try:
                return _H264Writer(self._tmp, self.fps, self._size)
            except Exception as exc:                     # PyAV/FFmpeg errors are their own classes
                raise UserError(f"cannot record to {self.path}: the H.264 encoder failed ({exc})") from None
        writer = cv2.VideoWriter(str(self._tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*self._fourcc),
                                 self.fps, self._size)
        if not writer.isOpened():
            raise UserError(f"cannot record to {self.path}: the video writer failed to open")
        return writer

    def frame_durations_ms(self) -> list[int]:
        """How long each kept frame of an animated recording lasts: frame i ends at (i+1)·stride/fps, rounded to
        the format's unit (GIF stores 1/100 s, at least 2 of them), so the total keeps the run's length."""
        unit, least = (10, 20) if self.ext == ".gif" else (1, 1)
        step = self._stride * 1000.0 / self.fps / unit
        ends = [0] + [round((i + 1) * step) * unit for i in range(len(self._buffer))]
        return [max(least, b - a) for a, b in zip(ends, ends[1:])]

    def _write_animation(self) -> bool:
        if self.ext == ".gif":
            _to_palette(self._buffer, _gif_palette(self._buffer, GIF_COLORS))
            # one global palette, exact (the frames hold no more colours than it has), no dithering
            params = [cv2.IMWRITE_GIF_QUALITY, 8, cv2.IMWRITE_GIF_DITHER, 3, cv2.IMWRITE_GIF_TRANSPARENCY, 0]
        else:
            params = [cv2.IMWRITE_WEBP_QUALITY, self.webp_quality]
        anim = cv2.Animation()
        anim.frames = self._buffer
        anim.durations = self.frame_durations_ms()
        anim.loop_count = 0
        return cv2.imwriteanimation(str(self._tmp), anim, params)

    def close(self) -> Path | None:
        """Finish the file and move it into place; returns its path, or None if nothing was written."""
        if self._done:
            return self._result
        if self.frames == 0:
            if self._writer is not None:
                self._writer.release()
            _unlink(self._tmp)
            self._done = True
            return None
        if self.animated:
            if not self._write_animation():
                _unlink(self._tmp)
                self._done = True
                raise UserError(f"cannot write recording {self.path}: encoding {self.ext} failed")
        elif self._writer is not None:
            self._writer.release()
        os.replace(self._tmp, self.path)
        self._buffer = []
        self._done = True
        self._result = self.path
        return self.path

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BackgroundRecorder:
    """A :class:`Recorder` fed through a small queue by its own thread, so encoding a frame overlaps the work
    on the next one (OpenCV's encoders release the GIL). Same ``write``/``close``/``frames``/``path``; an
    error in the thread is raised by the next ``write`` or by ``close``, which always finishes the file."""

    def __init__(self, recorder: Recorder, depth: int = 8) -> None:
        self.recorder, self.path = recorder, recorder.path
        self.frames = 0
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"record {self.path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (canvas := self._get()) is not None:
            if self._error is None:
                try:
                    self.recorder.write(canvas)
                except BaseException as exc:  # handed to the caller, never lost in the thread
                    self._error = exc

    def _get(self):
        """The next canvas, None at the end. It waits in short turns: a Ctrl-C or SIGTERM raised in the main
        thread while it was inside the queue's put can leave this thread unwoken (its notify lost), and close()
        would then wait for it forever; the next turn sees the item anyway."""
        while True:
            try:
                return self._q.get(timeout=0.2)
            except queue.Empty:
                continue

    def write(self, canvas: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(canvas)            # the caller renders a new canvas every frame: no copy needed
        self.frames += 1

    def close(self) -> Path | None:
        if not self._closed:
            self._closed = True
            self._q.put(None)
            self._thread.join()
        result = self.recorder.close()
        if self._error is not None:
            raise self._error
        return result

    def __enter__(self) -> BackgroundRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def snapshot(path: str | Path, canvas: np.ndarray) -> Path:
    """Save ``canvas`` as a PNG at ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"snapshot must be a .png file: {path}")
    ok, data = cv2.imencode(".png", as_bgr(canvas))
    if not ok:
        raise UserError(f"cannot encode snapshot {path}")
    tmp = _temp_in(path.parent, path.name, ".png", "snapshot")
    try:
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        raise UserError(f"cannot write snapshot {path}: {e.strerror or e}") from None
    return path
