"""The run loop: source → pipeline → render → sinks (recorder, stats, summary, window), until the source
ends, q, Ctrl-C, SIGTERM or --max-frames. Whatever ends the run, the recording and the stats file are
closed properly.

    run(settings)         # setup: model, blocks, pipeline, source; then Loop.play(source)
    Loop.show(...)        # one frame: draw it, hand it to every sink, handle a key (app.keys)
"""
from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch

from blocks import list_blocks, load_block
from models import UserError, load_classifier
from models.backend import make_backend

from .config import Settings
from .controls import Controls
from .display import LetterboxWindow
from .frame import FrameResult, ms_since
from .keys import press
from .kiosk import KioskMode
from .maker import Making
from .pipeline import Pipeline
from .record import check_path as check_recording
from .render import Hud, render
from .sinks import WINDOW, Callback, RecorderSink, Shown, StatsWriter, Summary
from .sources import Prefetch, Source, open_source


class Stop(Exception):
    """Raised by the SIGTERM handler so that `finally` blocks close recordings."""


class StopSignals:
    """SIGTERM raises Stop and Ctrl-C (SIGINT) KeyboardInterrupt in the main thread, so that a run ends with its
    outputs closed, but never while one frame is being handed to the sinks (`frame()`): a signal then waits
    until every sink has the frame, so the recording and the stats file hold the same frames. A second SIGTERM
    (`timeout` passing one on beside a `kill`) must not cut short the closing the first started; a second
    Ctrl-C still does, as a user pressing it twice asks."""

    def __init__(self):
        self.in_frame = False
        self.pending: int | None = None
        self.stopping = False

    def handle(self, signum, frame=None):
        if self.stopping:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        if self.in_frame:
            self.pending = signum
            return
        self._raise(signum)

    def _raise(self, signum):
        self.stopping = True
        raise KeyboardInterrupt if signum == signal.SIGINT else Stop()

    @contextlib.contextmanager
    def frame(self):
        self.in_frame = True
        try:
            yield
        finally:
            self.in_frame = False
        if self.pending is not None and not self.stopping:
            self._raise(self.pending)

    @contextlib.contextmanager
    def installed(self):
        """Handlers for SIGTERM, and for SIGINT unless it is ignored (a background job's), while in the block;
        the old ones after. Only in the main thread: elsewhere nothing changes."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = [signal.SIGTERM] + ([signal.SIGINT] if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN else [])
        old = {s: signal.signal(s, self.handle) for s in sigs}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


def load_blocks(settings: Settings, model_name: str, log=print):
    """The blocks n/p step through, the configured one first among them. Without block.cycle, every library
    block (the shipped ones, then the user's) joins; one that does not load for this model (made for another,
    or broken) is skipped with one line, while a block named in block.name or block.cycle must load."""
    folder = library(settings)
    named = list(settings.block.cycle)
    names = named or list_blocks(folder)
    if settings.block.name not in names:
        names.insert(0, settings.block.name)
    blocks, kept = [], []
    for n in names:
        try:
            blocks.append(load_block(n, model_name, folder))
        except UserError as exc:
            if named or n == settings.block.name:
                raise
            log(f"skipped block {n}: {exc}")
            continue
        kept.append(n)
    return blocks, kept.index(settings.block.name)


def library(settings: Settings) -> Path | None:
    """The folder of library blocks: block.library, else None (the shipped blocks/library, then the user's
    blocks: blocks.library.user_library())."""
    return Path(settings.block.library) if settings.block.library else None


def make_pipeline(settings: Settings, backend=None) -> Pipeline:
    """The blocks, the classifier's backend (unless given) and the pipeline over them. The blocks load first: a
    block that is unknown or made for another model is an error in a moment, not after the model has loaded."""
    blocks, index = load_blocks(settings, backend.model_name if backend is not None else settings.model)
    if backend is None:
        model = load_classifier(settings.model, settings.device, settings.weights)
        backend = make_backend(model, settings.backend, settings.threads or None)
    return Pipeline(backend, blocks, backend.class_names, settings.localize, settings.block.scale, index,
                    settings.block.enabled, bool(settings.mirror))


def has_display() -> bool:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return True


def fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames larger than `size` are scaled down to fit it (aspect kept); smaller ones are left alone."""
    h, w = frame.shape[:2]
    f = min(size[0] / w, size[1] / h)
    if f >= 1:
        return frame
    return cv2.resize(frame, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


KEYS_PER_FRAME = 8    # keys handled after one frame at most (every key pressed since the last frame, normally)


class Loop:
    """The state of a run between frames, and the loop over frames (`play`). The keys' actions
    (app.keys) change this state and the pipeline's controls (`controls`, app.controls); the sinks get every
    frame drawn. `window` is None when headless."""

    def __init__(self, settings: Settings, pipeline: Pipeline, summary: Summary, headless: bool = True,
                 log=print, on_frame=None, kiosk: KioskMode | None = None):
        self.settings, self.pipeline, self.summary, self.log = settings, pipeline, summary, log
        self.controls = pipeline.controls           # the block, on/off, mirror: changed only through its methods
        backend = pipeline.backend
        self.hud = Hud(target=None, device=backend.device, backend=backend.name,
                       any_object=settings.localize.classes == "any")
        self.kiosk = kiosk
        self.making: Making | None = None          # blocks made in the background (block.target, block.make)
        self.fooled: collections.deque = collections.deque(maxlen=settings.ui.fooled_window)
        self.shown_at: collections.deque = collections.deque(maxlen=30)   # when the last frames were shown
        self.message_until = 0.0
        self.running = True
        self.signals = StopSignals()                # Ctrl-C and SIGTERM wait until the sinks have a frame
        self.fullscreen = settings.ui.fullscreen or kiosk is not None
        self.shown: Shown | None = None            # the last frame as the sinks got it: `s` saves its clean
                                                   # view, and it is redrawn while a camera is lost
        self.was_lost = False
        # sinks: everything a user can get wrong (paths) is checked before the window opens
        self.stats = StatsWriter(settings.stats, summary.outputs)
        self.recorder = RecorderSink(summary.outputs, settings, log)
        rec = settings.record
        if rec.path:
            self.recorder.start(rec.path, settings.fps)
        self.window = None if headless else LetterboxWindow(self.fullscreen)
        self.hud.hint = self.window is not None and kiosk is None     # "h: help" where h does something
        if kiosk is not None and self.window is not None:
            kiosk.open_window(WINDOW, log)
        self.sinks = [self.recorder, self.stats, summary]
        self.sinks += [Callback(on_frame)] if on_frame is not None else []
        self.sinks += [self.window] if self.window is not None else []

    @property
    def canvas(self) -> np.ndarray | None:
        """The last canvas drawn (the window's view), None before the first frame."""
        return self.shown.canvas if self.shown is not None else None

    def say(self, message: str, seconds: float) -> None:
        """A one-line message at the bottom of the canvas for a few seconds."""
        self.hud.message, self.message_until = message, time.perf_counter() + seconds

    def play(self, source: Source) -> None:
        """Frames from `source` through the pipeline to the sinks, until it ends, q or max_frames.

        Files and the sample are drawn one frame behind: frame N is drawn and handed to the sinks while a
        worker thread classifies frame N+1, each frame with its own labels. A live camera sets the pace
        itself, so its frames are drawn as soon as they are classified (least latency)."""
        worker = None if source.live else ThreadPoolExecutor(1, thread_name_prefix="pipeline")
        pending = None            # (frame, job, t_got, capture_ms, controls) classified on the worker, not yet shown
        taken, most = 0, self.settings.max_frames
        t0 = time.perf_counter()
        try:
            while self.running and (not most or taken < most):
                frame, capture_ms = self.next_frame(source)
                if frame is None:
                    if source.ended:
                        break
                    continue
                taken += 1
                t_got = time.perf_counter()
                controls = self.controls.snapshot()      # this frame's block, on/off and mirror, read once
                frame = self.mirrored(frame, controls)
                if worker is None:
                    self.show(frame, self.pipeline.step(frame, controls), t_got, capture_ms, controls)
                    continue
                job = worker.submit(self.pipeline.step, frame, controls)
                if pending is not None:
                    self.show(pending[0], pending[1].result(), *pending[2:])
                pending = (frame, job, t_got, capture_ms, controls)
            if pending is not None and self.running:
                self.show(pending[0], pending[1].result(), *pending[2:])
        finally:
            self.summary.seconds = time.perf_counter() - t0
            if worker is not None:
                worker.shutdown(wait=True, cancel_futures=True)

    def mirrored(self, frame: np.ndarray, controls: Controls) -> np.ndarray:
        """The frame flipped left-right when `controls.mirror` says so (never the kiosk's attract clip): done
        before classification, so both panes, the box and the paste agree."""
        if not controls.mirror or (self.kiosk is not None and self.kiosk.machine.attracting):
            return frame
        return cv2.flip(frame, 1)

    def next_frame(self, source: Source) -> tuple[np.ndarray | None, float]:
        """(the next frame fitted to the processing size, ms spent reading it); (None, ms) when there is
        none: the source ended, or a live camera gave nothing in time (then the last frame is redrawn
        with "camera lost" while it reconnects)."""
        if self.kiosk is not None:
            self.kiosk.before_frame(self)
        t = time.perf_counter()
        frame = source.read()
        capture_ms = ms_since(t)
        if frame is None and source.ended:
            return None, capture_ms
        lost = frame is None and source.lost
        if lost != self.was_lost:
            self.was_lost = lost
            self.log("camera lost: reconnecting" if lost else "camera back")
        self.hud.lost = lost
        if frame is None:
            if self.shown is not None and self.window is not None:
                self.window.show(self.draw(self.shown.frame, self.shown.result))
                self.poll(30)
            return None, capture_ms
        return fit(frame, self.settings.size), capture_ms

    def show(self, frame: np.ndarray, res: FrameResult, t_got: float, capture_ms: float,
             controls: Controls | None = None) -> None:
        """One classified frame (made with `controls`, default: the controls now): draw it, hand it to every
        sink, then handle the keys pressed."""
        controls = self.controls.snapshot() if controls is None else controls
        block = res.block or controls.block
        self.hud.target = block.info.target_name if block is not None else None
        self.hud.block_on = controls.enabled
        if res.block is not None:
            self.fooled.append(res.fooled)
        if self.kiosk is not None:
            self.kiosk.after_frame(self.pipeline, res)
        if self.making is not None:
            self.making.tick(self)
        self.hud.fooled = sum(self.fooled) / len(self.fooled) if self.fooled else None
        t = time.perf_counter()
        canvas = self.draw(frame, res)
        ms = {"capture": capture_ms, "render": ms_since(t), "latency": ms_since(t_got)}
        now = time.perf_counter()
        previous = self.shown_at[-1] if self.shown_at else None
        ms["frame"] = (now - previous) * 1e3 if previous else ms["latency"] + capture_ms   # frame interval
        self.shown_at.append(now)
        shown = self.shown = Shown(self.summary.frames, res, canvas, ms, frame, self.hud)
        with self.signals.frame():
            for sink in self.sinks:
                sink.write(shown)
        self.tick(ms["latency"])
        if self.window is not None:
            self.poll(1)

    def draw(self, frame: np.ndarray, res: FrameResult) -> np.ndarray:
        if self.kiosk is not None:
            return self.kiosk.draw(frame, res, self.hud)
        return render(frame, res.after_frame, res.before, res.after, res.box, self.hud, self.settings.ui.layout,
                      self.settings.ui.pane_width or None, fooled=res.fooled)

    def tick(self, latency_ms: float) -> None:
        """The HUD's rates after a frame (drawn on the next one); an old message goes away."""
        if len(self.shown_at) > 1:
            self.hud.fps = (len(self.shown_at) - 1) / (self.shown_at[-1] - self.shown_at[0])
        self.hud.latency_ms = latency_ms
        if self.message_until and time.perf_counter() > self.message_until:
            self.hud.message, self.message_until = "", 0.0

    def poll(self, wait_ms: int) -> None:
        """Handle every key pressed in the window since the last frame (at most KEYS_PER_FRAME: `h h` typed
        quickly shows and hides help); closing the window quits."""
        for i in range(KEYS_PER_FRAME):
            code = self.window.key(wait_ms if i == 0 else 1)
            if code < 0:
                break
            press(self, code)
            if not self.running:
                break
        if self.running and self.window.closed:
            self.running = False

    def close(self) -> None:
        if self.making is not None:
            self.making.stop()
        for sink in self.sinks:
            sink.close()
        if self.kiosk is not None:
            self.kiosk.close()


def run(settings: Settings, log=print, on_frame=None, backend=None, source=None, clock=time.monotonic) -> Summary:
    """Run until the source ends, q, Ctrl-C, SIGTERM or max_frames. `on_frame(i, result)` is called per frame.
    `backend` (models.backend) and `source` (app.sources) replace the ones `settings` would open (benchmarks
    time the backend on its own and feed frames held in memory); `clock` is the kiosk machine's (tests run a
    booth's minutes on a fake one)."""
    summary = Summary()
    headless = settings.ui.headless or not has_display()
    kiosk_on = settings.ui.kiosk.enabled
    if settings.record.path:
        check_recording(settings.record.path)           # everything a user can get wrong is checked before
    pipeline = make_pipeline(settings, backend)         # the model loads and the camera opens
    if source is None:
        realtime = not headless if settings.realtime is None else settings.realtime   # a window: the clip's rate
        looping = not headless if settings.loop is None else settings.loop            # a window never ends by itself
        source = open_source(settings.source, size=settings.size, loop=looping or kiosk_on, realtime=realtime,
                             fps=settings.fps, camera_size=settings.camera_size)
    pipeline.controls.set_mirror(source.camera if settings.mirror is None else settings.mirror)
    try:
        kiosk = KioskMode(settings, source, clock) if kiosk_on else None
        source = kiosk.source if kiosk else source
        loop = Loop(settings, pipeline, summary, headless, log, on_frame, kiosk)
    except BaseException:
        source.close()
        raise
    if not source.live:
        source = Prefetch(source)          # decode/generate the next frame while this one is classified
    if headless and not settings.max_frames:
        log(f"headless: no window; processing {source.name} until it ends (Ctrl-C stops and saves)")
    with _small_jobs_on_one_thread(pipeline.backend), loop.signals.installed():
        try:
            if settings.block.target or settings.block.make:
                loop.making = Making(settings.block, library(settings), pipeline, log)
                loop.making.start()
            loop.play(source)
        except (KeyboardInterrupt, Stop):
            log("interrupted: closing outputs")
        finally:
            loop.signals.stopping = True    # a SIGTERM now does not cut the closing short
            loop.close()
            source.close()
    return summary


@contextlib.contextmanager
def _small_jobs_on_one_thread(backend):
    """With ONNX Runtime, torch and OpenCV only do small per-frame jobs: one thread each keeps them from
    fighting ONNX Runtime's threads for the cores."""
    threads = torch.get_num_threads(), cv2.getNumThreads()
    if backend.name == "onnx":
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
