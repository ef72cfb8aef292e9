"""Where a drawn frame goes: the run loop hands every frame (a `Shown`) to a list of sinks, in order:

    RecorderSink  -> the recording (.gif/.mp4, --record or the `r` key)
    StatsWriter   -> one JSON line per frame (--stats)
    Summary       -> counts and timings for the summary printed at the end (and scripts/bench.py)
    Window        -> the window on screen (absent when headless)
    Callback      -> run(on_frame=...)

Each has `write(shown)` and `close()`; `close()` may be called more than once.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from models import UserError

from .config import Settings
from .frame import FrameResult, ms_since
from .record import BackgroundRecorder, Recorder

if TYPE_CHECKING:
    from .render import Hud

WINDOW = "chicken-saviour"


@dataclass
class Shown:
    """One frame as drawn: the pipeline's result, the canvas, and the loop's own timings (ms)."""
    index: int                         # 0, 1, 2 ... in the order frames are shown
    result: FrameResult
    canvas: np.ndarray
    ms: dict[str, float]               # capture, render, latency (frame in hand -> drawn), frame (interval)
    frame: np.ndarray | None = None    # the frame as classified (the BEFORE pane), for views drawn anew
    hud: Hud | None = None             # the HUD as drawn on the canvas


class RecorderSink:
    """The recording, when there is one: opened from --record at the start or by the `r` key.

    record.style "clean" (the default) draws each recorded frame anew at the recording's own width, as the
    kiosk draws its screen: panes, labels and the explanation, legible at that width, with no debug readout,
    help or messages (app.kiosk_view.render_recording; on the recorder's thread, and only for the frames an
    animation keeps). "screen" records the canvas as shown, debug readout included."""

    def __init__(self, outputs: list[str], settings: Settings | None = None, log=print):
        self.recorder: BackgroundRecorder | None = None
        self.outputs = outputs         # paths of finished recordings (the summary's list)
        self.settings = settings or Settings()
        self.log = log
        self.width: int | None = None  # the clean view's width for the current recording (None: the canvas's)

    @property
    def active(self) -> bool:
        return self.recorder is not None

    def start(self, path, fps: float) -> None:
        rec = self.settings.record
        recorder = Recorder(path, fps, anim_width=rec.anim_width, anim_fps=rec.anim_fps,
                            anim_max_frames=rec.anim_max_frames, webp_quality=rec.webp_quality)
        if recorder.ext == ".mp4" and not recorder.h264:
            self.log(f"note: {recorder.path} is MPEG-4 part 2 ({recorder.codec}), which browsers do not play: "
                     "`pip install av` (in requirements.txt) records H.264")
        self.width = (rec.anim_width if recorder.animated else rec.video_width) or None
        self.recorder = BackgroundRecorder(recorder)

    def view(self, shown: Shown, width: int | None = None):
        """What the recording gets for `shown`: the canvas, or a function drawing the clean view `width` px wide
        (default: the recording's)."""
        if self.settings.record.style == "screen" or shown.frame is None or shown.hud is None:
            return shown.canvas
        from .kiosk_view import render_recording, strip_text

        res, k = shown.result, self.settings.ui.kiosk
        hud = dataclasses.replace(shown.hud)
        text = strip_text(hud, res.block is not None, k)
        width = width or self.width or shown.canvas.shape[1]
        return functools.partial(render_recording, shown.frame, res.after_frame, res.before, res.after, res.box,
                                 hud, width, text, res.fooled)

    def still(self, shown: Shown) -> np.ndarray:
        """A snapshot of `shown` (the `s` key) in the recordings' style: the clean view at record.video_width,
        or the canvas as shown (record.style "screen")."""
        view = self.view(shown, self.settings.record.video_width or None)
        return view() if callable(view) else view

    def stop(self) -> Path | None:
        if self.recorder is None:
            return None
        done, self.recorder = self.recorder.close(), None
        if done:
            self.outputs.append(str(done))
        return done

    def write(self, shown: Shown) -> None:
        if self.recorder is not None:
            t = time.perf_counter()
            self.recorder.write(self.view(shown))
            shown.ms["record"] = ms_since(t)

    def close(self) -> None:
        self.stop()


class StatsWriter:
    """One JSON line per frame, flushed as it goes. The path is checked at once, but the file is only
    opened (and an old one replaced) at the first frame, so a run that fails to start loses nothing."""

    def __init__(self, path: str | None, outputs: list[str] | None = None):
        self.f = None
        self.name = path
        self.path = Path(path) if path else None
        self.outputs = outputs         # the path is added to it at close() if a line was written
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot write stats file {self.path} ({exc.strerror})") from None
            if self.path.is_dir() or not os.access(self.path.parent, os.W_OK):
                raise UserError(f"cannot write stats file {self.path}")

    def write(self, shown: Shown) -> None:
        if self.path is None:
            return
        if self.f is None:
            try:
                self.f = open(self.path, "w", encoding="utf-8", buffering=1)
            except OSError as exc:
                raise UserError(f"cannot write stats file {self.path} ({exc.strerror})") from None
        res = shown.result

        def pred(p):
            return {"index": p.index, "name": p.name, "prob": round(p.prob, 5)}
        self.f.write(json.dumps({"frame": shown.index, "before": pred(res.before), "after": pred(res.after),
                                 "box": res.box, "block": res.block.name if res.block is not None else None,
                                 "block_area": res.block_area, "fooled": res.fooled,
                                 "label_changed": res.after.index != res.before.index,
                                 "latency_ms": round(shown.ms["latency"], 2)}) + "\n")

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None
            if self.outputs is not None:
                self.outputs.append(self.name)


STAGE_FRAMES = 10_000   # Summary.stage_ms keeps the timings of the last 10,000 to 20,000 frames


@dataclass
class Summary:
    """What the run did, counted frame by frame; `text()` is the summary printed at the end."""
    frames: int = 0
    seconds: float = 0.0
    before: collections.Counter = field(default_factory=collections.Counter)
    after: collections.Counter = field(default_factory=collections.Counter)
    fooled: int = 0          # frames where the block was pasted and the after-label is its target
    pasted: int = 0          # frames with a block pasted
    changed: int = 0         # frames where the after-label differs from the before-label
    first_frame_s: float | None = None      # from the start of the run to the first frame drawn
    first_frame_at: float | None = None     # time.perf_counter() at the first frame drawn
    started_at: float = field(default_factory=time.perf_counter)
    outputs: list[str] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def write(self, shown: Shown) -> None:
        res = shown.result
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()
            self.first_frame_s = self.first_frame_at - self.started_at
        self.frames += 1
        self.before[res.before.name] += 1
        self.after[res.after.name] += 1
        self.changed += res.after.index != res.before.index
        self.pasted += res.block is not None
        self.fooled += res.fooled
        for k, v in (*res.ms.items(), *shown.ms.items()):
            kept = self.stage_ms[k]
            kept.append(v)
            if len(kept) > 2 * STAGE_FRAMES:   # a booth runs for days: all of them grew 35 MB a 100,000 frames
                del kept[:STAGE_FRAMES]

    def close(self) -> None:
        pass

    def text(self) -> str:
        def top(c):
            return ", ".join(f"{n} {k}" for n, k in c.most_common(4)) or "-"
        fooled = (f"{share(self.fooled, self.pasted)} of {self.pasted} frames with the block" if self.pasted
                  else "no block pasted")
        lines = [f"frames   {self.frames} in {self.seconds:.1f} s ({self.fps:.1f} FPS)",
                 f"before   {top(self.before)}",
                 f"after    {top(self.after)}",
                 f"fooled   {fooled}; label changed in {self.changed}/{self.frames} frames"]
        lines += [f"wrote    {p}" for p in self.outputs]
        return "\n".join(lines)


def share(part: int, whole: int) -> str:
    """part/whole as a percentage that never rounds up to 100% (2,734 of 2,739 is 99.8%, not 100%)."""
    if part == whole:
        return "100%"
    return f"{part / whole:.0%}" if part / whole < 0.995 else f"{math.floor(part / whole * 1000) / 10:.1f}%"


class Window:
    """The OpenCV window: shows each canvas, reports keys, and goes fullscreen on request."""

    def __init__(self, fullscreen: bool = False):
        os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")   # Qt's font-folder chatter
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self.fullscreen = fullscreen
        self.sized = False
        if fullscreen:
            self.set_fullscreen(True)

    def write(self, shown: Shown) -> None:
        self.show(shown.canvas)

    def show(self, canvas: np.ndarray) -> None:
        if not self.sized and not self.fullscreen:    # open at the canvas's own size, once
            cv2.resizeWindow(WINDOW, canvas.shape[1], canvas.shape[0])
        self.sized = True
        cv2.imshow(WINDOW, canvas)

    def key(self, wait_ms: int = 1) -> int:
        """The key pressed (cv2.waitKey code), -1 if none; also lets the window redraw."""
        return cv2.waitKey(wait_ms)

    @property
    def closed(self) -> bool:
        """The user closed the window (its close button)."""
        return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1

    def set_fullscreen(self, on: bool) -> None:
        self.fullscreen = on
        cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN if on else cv2.WINDOW_NORMAL)

    def close(self) -> None:
        cv2.destroyAllWindows()


class Callback:
    """run(on_frame=f): f(i, result) per frame (scripts/bench.py samples memory with it)."""

    def __init__(self, fn):
        self.fn = fn

    def write(self, shown: Shown) -> None:
        self.fn(shown.index + 1, shown.result)

    def close(self) -> None:
        pass
