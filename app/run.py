"""The run loop: source → pipeline → render → window / recorder / stats, until the source ends, q, Ctrl-C,
SIGTERM or --max-frames. Whatever ends the run, the recording and the stats file are closed properly."""
from __future__ import annotations

import collections
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from blocks import list_blocks, load_block
from models import UserError, load_classifier
from models.backend import make_backend

from .config import Settings
from .pipeline import Pipeline
from .record import BackgroundRecorder, Recorder, snapshot
from .render import Hud, render
from .sources import Prefetch, open_source

WINDOW = "chicken-saviour"


class Stop(Exception):
    """Raised by the SIGTERM handler so that `finally` blocks close recordings."""


@dataclass
class Summary:
    frames: int = 0
    seconds: float = 0.0
    before: collections.Counter = field(default_factory=collections.Counter)
    after: collections.Counter = field(default_factory=collections.Counter)
    fooled: int = 0          # frames where the block was pasted and the after-label is its target
    pasted: int = 0          # frames with a block pasted
    changed: int = 0         # frames where the after-label differs from the before-label
    first_frame_s: float | None = None      # from the call of run() to the first rendered frame
    first_frame_at: float | None = None     # time.perf_counter() at the first rendered frame
    outputs: list[str] = field(default_factory=list)
    stage_ms: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        def top(c):
            return ", ".join(f"{n} {k}" for n, k in c.most_common(4)) or "-"
        fooled = f"{self.fooled / self.pasted:.0%} of {self.pasted} frames with the block" if self.pasted else "no block pasted"
        lines = [f"frames   {self.frames} in {self.seconds:.1f} s ({self.fps:.1f} FPS)",
                 f"before   {top(self.before)}",
                 f"after    {top(self.after)}",
                 f"fooled   {fooled}; label changed in {self.changed}/{self.frames} frames"]
        lines += [f"wrote    {p}" for p in self.outputs]
        return "\n".join(lines)


def load_blocks(settings: Settings, model_name: str):
    """The blocks n/p step through, the configured one first among them."""
    names = list(settings.block.cycle) or list_blocks()
    if settings.block.name not in names:
        names.insert(0, settings.block.name)
    blocks = [load_block(n, model_name) for n in names]
    return blocks, names.index(settings.block.name)


def has_display() -> bool:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return True


class StatsWriter:
    """One JSON line per frame, flushed as it goes. The path is checked at once, but the file is only
    opened (and an old one replaced) at the first frame, so a run that fails to start loses nothing."""

    def __init__(self, path: str | None):
        self.f = None
        self.path = Path(path) if path else None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot write stats file {self.path} ({exc.strerror})") from None
            if self.path.is_dir() or not os.access(self.path.parent, os.W_OK):
                raise UserError(f"cannot write stats file {self.path}")

    def write(self, i: int, res, latency_ms: float) -> None:
        if self.path is None:
            return
        if self.f is None:
            try:
                self.f = open(self.path, "w", encoding="utf-8", buffering=1)
            except OSError as exc:
                raise UserError(f"cannot write stats file {self.path} ({exc.strerror})") from None
        def pred(p):
            return {"index": p.index, "name": p.name, "prob": round(p.prob, 5)}
        self.f.write(json.dumps({"frame": i, "before": pred(res.before), "after": pred(res.after), "box": res.box,
                                 "block": res.block, "block_area": res.block_area,
                                 "latency_ms": round(latency_ms, 2)}) + "\n")

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None


def fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames larger than `size` are scaled down to fit it (aspect kept); smaller ones are left alone."""
    h, w = frame.shape[:2]
    f = min(size[0] / w, size[1] / h)
    if f >= 1:
        return frame
    return cv2.resize(frame, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def run(settings: Settings, log=print, on_frame=None, backend=None, source=None) -> Summary:
    """Run until the source ends, q, Ctrl-C, SIGTERM or max_frames. `on_frame(i, result)` is called per frame.
    `backend` (models.backend) and `source` (app.sources) replace the ones `settings` would open (benchmarks
    time the backend on its own and feed frames held in memory)."""
    t_start = time.perf_counter()
    headless = settings.ui.headless or not has_display()
    # Everything a user can get wrong is checked before the first frame.
    if backend is None:
        model = load_classifier(settings.model, settings.device, settings.weights)
        backend = make_backend(model, settings.backend, settings.threads or None)
    blocks, index = load_blocks(settings, backend.model_name)
    pipeline = Pipeline(backend, blocks, backend.class_names, settings.localize, settings.block.scale, index,
                        settings.block.enabled)
    if source is None:
        source = open_source(settings.source, size=settings.size, loop=settings.loop, realtime=settings.realtime,
                             fps=settings.fps)
    try:
        stats = StatsWriter(settings.stats)
        rec = settings.record
        recorder = BackgroundRecorder(Recorder(rec.path, settings.fps, anim_width=rec.anim_width, anim_fps=rec.anim_fps,
                                               anim_max_frames=rec.anim_max_frames,
                                               webp_quality=rec.webp_quality)) \
            if settings.record.path else None
    except BaseException:
        source.close()
        raise
    if not source.live:
        source = Prefetch(source)          # decode/generate the next frame while this one is classified
    threads = torch.get_num_threads(), cv2.getNumThreads()
    if backend.name == "onnx":             # torch and OpenCV only do small per-frame jobs here: one thread each
        torch.set_num_threads(1)           # keeps them from fighting ONNX Runtime's threads for the cores
        cv2.setNumThreads(1)
    summary = Summary()
    hud = Hud(target=None, device=backend.device, backend=backend.name)
    fooled_hist: collections.deque = collections.deque(maxlen=settings.ui.fooled_window)
    fps_hist: collections.deque = collections.deque(maxlen=30)
    message_until = 0.0
    was_lost = False
    fullscreen = settings.ui.fullscreen
    if headless and not settings.max_frames:
        log(f"headless: no window; processing {source.name} until it ends (Ctrl-C stops and saves)")
    if not headless:
        os.environ.setdefault("QT_LOGGING_RULES", "default.warning=false")   # Qt's font-folder chatter
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
    old_term = signal.signal(signal.SIGTERM, _raise_stop) if _main_thread() else None
    # Files and the sample are drawn one frame behind: frame N is rendered, recorded and shown while the
    # pipeline classifies frame N+1 on a worker thread. Each frame is shown with its own labels. A live
    # camera sets the pace itself, so it is drawn as soon as its frame is classified (least latency).
    overlap = not source.live
    worker = ThreadPoolExecutor(1, thread_name_prefix="pipeline") if overlap else None
    last_shown = 0.0              # perf_counter() when the last frame was shown
    presented = None              # (frame, result) of the last frame shown, redrawn while a camera is lost

    def present(frame: np.ndarray, job, t_got: float, t_read: float) -> bool:
        """Render, record, log and show one classified frame, then handle a key. False: quit."""
        nonlocal recorder, message_until, fullscreen, last_shown, presented
        res = job.result() if worker is not None else job
        block = pipeline.block if res.block is None else next(b for b in pipeline.blocks if b.name == res.block)
        hud.target = block.info.target_name if block is not None else None
        hud.block_on = pipeline.enabled
        if res.block is not None:
            fooled_hist.append(res.after.index == block.info.target)
        hud.fooled = (sum(fooled_hist) / len(fooled_hist)) if fooled_hist else None
        t = time.perf_counter()
        canvas = render(frame, res.after_frame, res.before, res.after, res.box, hud, settings.ui.layout,
                        settings.ui.pane_width or None)
        res.ms["render"] = (time.perf_counter() - t) * 1e3
        presented = (frame, res)
        t = time.perf_counter()
        if recorder is not None:
            recorder.write(canvas)
        res.ms["record"] = (time.perf_counter() - t) * 1e3
        res.ms["capture"] = t_read
        now = time.perf_counter()
        latency = (now - t_got) * 1e3                       # frame in hand -> drawn and handed to the recorder
        stats.write(summary.frames, res, latency)
        _tally(summary, res, block)
        res.ms["latency"] = latency
        res.ms["frame"] = (now - last_shown) * 1e3 if last_shown else latency + t_read   # frame interval
        last_shown = now
        for k, v in res.ms.items():
            summary.stage_ms[k].append(v)
        if on_frame is not None:
            on_frame(summary.frames, res)
        if summary.first_frame_s is None:
            summary.first_frame_at = time.perf_counter()
            summary.first_frame_s = summary.first_frame_at - t_start
        fps_hist.append(time.perf_counter())
        if len(fps_hist) > 1:
            hud.fps = (len(fps_hist) - 1) / (fps_hist[-1] - fps_hist[0])
        hud.latency_ms = latency
        if message_until and time.perf_counter() > message_until:
            hud.message, message_until = "", 0.0
        if headless:
            return True
        if summary.frames == 1 and not fullscreen:
            cv2.resizeWindow(WINDOW, canvas.shape[1], canvas.shape[0])
        cv2.imshow(WINDOW, canvas)
        action = _keys(cv2.waitKey(1) & 0xFF)
        if action == "quit" or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            return False
        if action == "toggle":
            pipeline.enabled = not pipeline.enabled
        elif action in ("next", "prev"):
            pipeline.cycle(1 if action == "next" else -1)
            fooled_hist.clear()
            hud.message, message_until = f"block: {pipeline.block.name}", time.perf_counter() + 2
        elif action == "help":
            hud.show_help = not hud.show_help
        elif action == "snapshot":
            path = Path(settings.record.snapshot_dir) / time.strftime("snapshot-%Y%m%d-%H%M%S.png")
            snapshot(path, canvas)
            hud.message, message_until = f"snapshot saved: {path}", time.perf_counter() + 3
        elif action == "record":
            if recorder is None:
                path = Path(settings.record.snapshot_dir) / time.strftime("recording-%Y%m%d-%H%M%S.mp4")
                recorder = BackgroundRecorder(Recorder(path, max(1.0, hud.fps or settings.fps)))
                hud.message = f"recording to {path}"
            else:
                done = recorder.close()
                summary.outputs += [str(done)] if done else []
                recorder = None
                hud.message = f"saved {done}"
            message_until = time.perf_counter() + 3
            hud.recording = recorder is not None
        elif action == "fullscreen":
            fullscreen = not fullscreen
            cv2.setWindowProperty(WINDOW, cv2.WND_PROP_FULLSCREEN,
                                  cv2.WINDOW_FULLSCREEN if fullscreen else cv2.WINDOW_NORMAL)
        return True

    pending = None                # overlap: (frame, job, t_got, t_read) classified on the worker, not yet shown
    taken = 0                     # frames taken from the source
    t0 = time.perf_counter()
    try:
        while not settings.max_frames or taken < settings.max_frames:
            t_frame = time.perf_counter()
            frame = source.read()
            t_read = (time.perf_counter() - t_frame) * 1e3
            if frame is None and source.ended:
                break
            lost = frame is None and source.lost
            if lost != was_lost:
                was_lost = lost
                log("camera lost: reconnecting" if lost else "camera back")
            if frame is None:
                last = presented
                if last is not None and not headless:        # a live camera is gone: say so, keep trying
                    hud.lost = source.lost
                    cv2.imshow(WINDOW, render(last[0], last[1].after_frame, last[1].before, last[1].after,
                                              last[1].box, hud, settings.ui.layout, settings.ui.pane_width or None))
                    if _keys(cv2.waitKey(30) & 0xFF) == "quit":
                        break
                continue
            hud.lost = False
            frame = fit(frame, settings.size)
            taken += 1
            t_got = time.perf_counter()
            if worker is None:
                if not present(frame, pipeline.step(frame), t_got, t_read):
                    break
                continue
            job = worker.submit(pipeline.step, frame)
            shown, pending = pending, (frame, job, t_got, t_read)
            if shown is not None and not present(*shown):
                pending = None
                break
        if pending is not None:
            present(*pending)
            pending = None
    except (KeyboardInterrupt, Stop):
        log("interrupted: closing outputs")
    finally:
        if worker is not None:
            worker.shutdown(wait=True, cancel_futures=True)
        summary.seconds = time.perf_counter() - t0
        if recorder is not None:
            done = recorder.close()
            summary.outputs += [str(done)] if done else []
        stats.close()
        if settings.stats and summary.frames:
            summary.outputs.append(settings.stats)
        source.close()
        if not headless:
            cv2.destroyAllWindows()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    return summary


KEYMAP = {ord("q"): "quit", 27: "quit", ord(" "): "toggle", ord("n"): "next", ord("p"): "prev", ord("r"): "record",
          ord("s"): "snapshot", ord("f"): "fullscreen", ord("h"): "help"}


def _keys(code: int) -> str | None:
    return KEYMAP.get(code)


def _raise_stop(signum, frame):
    raise Stop()


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _tally(summary: Summary, res, block) -> None:
    summary.frames += 1
    summary.before[res.before.name] += 1
    summary.after[res.after.name] += 1
    summary.changed += res.after.index != res.before.index
    if res.block is not None:
        summary.pasted += 1
        summary.fooled += res.after.index == block.info.target

