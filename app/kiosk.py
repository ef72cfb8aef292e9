"""Kiosk mode's behaviour over time: a booth screen that keeps going without anyone touching a key.

- **attract loop**: when the camera has shown no animal for `attract_after_s` seconds (or is lost that long),
  the attract source (the built-in sample) plays instead; a camera frame is classified every `PROBE_S`
  seconds meanwhile, and `PROBES_BACK` probes in a row that see an animal bring the camera back;
- **auto-cycle**: the next library block every `cycle_s` seconds;
- **rhythm**: the block on for `block_on_s`, off for `block_off_s`, and again (so passers-by see the contrast).

`Kiosk` is the state machine, driven by a clock that tests replace; `AttractFeed` is the source that plays the
camera or the attract source as the machine says; `KioskMode` joins them to the run loop (app.run.Loop) and
draws the kiosk screen (app/kiosk_view.py) at the display's size (app/display.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import KioskSettings
from .display import DEFAULT_SCREEN, open_kiosk_window
from .keys import next_block
from .kiosk_view import render_kiosk, strip_text
from .sources import Source, open_source


@dataclass(frozen=True)
class Actions:
    """What the run loop does before its next frame."""
    attract: bool = False               # play the attract source instead of the camera
    probe: bool = False                 # classify a camera frame now and tell `Kiosk.saw` what it shows
    next_block: bool = False            # step to the next block (auto-cycle)
    block_on: bool | None = None        # the rhythm switches the block on/off now (None: leave it as it is)


class Kiosk:
    PROBE_S = 0.5        # while attracting, a camera frame is classified this often
    PROBES_BACK = 2      # this many probes in a row seeing an animal bring the camera back

    def __init__(self, settings: KioskSettings, can_attract: bool, clock: Callable[[], float] = time.monotonic):
        self.s, self.clock = settings, clock
        self.can_attract = can_attract and settings.attract_after_s > 0
        self.last_seen = self.cycled_at = self.rhythm_t0 = self.probed_at = None   # set by the first tick
        self.attracting = False
        self.hits = 0                    # consecutive probes that saw an animal
        self.block_on: bool | None = None

    def saw(self, seen: bool) -> None:
        """A camera frame was classified (live, or a probe while attracting): did it show an animal?"""
        if not self.attracting:
            if seen:
                self.last_seen = self.clock()
            return
        self.hits = self.hits + 1 if seen else 0
        if self.hits >= self.PROBES_BACK:
            self.attracting, self.hits, self.last_seen = False, 0, self.clock()

    def tick(self) -> Actions:
        """Call once before each frame (and while the camera is lost); the clocks start at the first call."""
        now = self.clock()
        if self.last_seen is None:
            self.last_seen = self.cycled_at = self.rhythm_t0 = self.probed_at = now
        if self.can_attract and not self.attracting and now - self.last_seen >= self.s.attract_after_s:
            self.attracting, self.hits, self.probed_at = True, 0, now
        probe = self.attracting and now - self.probed_at >= self.PROBE_S
        if probe:
            self.probed_at = now
        next_block = self.s.cycle_s > 0 and now - self.cycled_at >= self.s.cycle_s
        if next_block:
            self.cycled_at = now
        return Actions(self.attracting, probe, next_block, self._rhythm(now))

    def _rhythm(self, now: float) -> bool | None:
        on, off = self.s.block_on_s, self.s.block_off_s
        if on <= 0 or off <= 0:
            return None
        state = (now - self.rhythm_t0) % (on + off) < on
        changed = state != self.block_on
        self.block_on = state
        return state if changed else None


class AttractFeed(Source):
    """The camera, or the attract source while `attracting` is set; `camera_frame()` peeks at the camera
    meanwhile. Lost only while the camera is what plays."""

    live = True

    def __init__(self, camera: Source, attract: Source):
        self.camera, self.attract = camera, attract
        self.name, self.fps = camera.name, camera.fps
        self.attracting = False

    @property
    def lost(self) -> bool:
        return not self.attracting and self.camera.lost

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        return self.attract.read(timeout) if self.attracting else self.camera.read(timeout)

    def camera_frame(self) -> np.ndarray | None:
        """The camera's newest frame if one came since the last read (never waits)."""
        return self.camera.read(0.0)

    def close(self) -> None:
        self.ended = True
        self.attract.close()
        self.camera.close()


class KioskMode:
    """Kiosk mode inside the run loop (app.run.Loop): `source` replaces the loop's source (the camera becomes an
    AttractFeed when there is one and an attract time), `before_frame` applies the machine's actions,
    `after_frame` tells it what the camera showed, `draw` draws the kiosk screen."""

    def __init__(self, settings, source: Source, clock: Callable[[], float] = time.monotonic):
        self.s = settings.ui.kiosk
        self.feed = None
        if source.live and self.s.attract_after_s > 0:
            self.feed = AttractFeed(source, open_source(self.s.attract_source, settings.size, loop=True,
                                                        realtime=True, fps=settings.fps))
        self.source = self.feed or source
        self.machine = Kiosk(self.s, self.feed is not None, clock)
        self.screen = self.s.screen if self.s.screen != (0, 0) else DEFAULT_SCREEN   # until the window says
        self.any_object = settings.localize.classes == "any"
        self.xdisplay = None

    def open_window(self, window: str, log) -> None:
        self.screen, self.xdisplay = open_kiosk_window(window, self.s.screen, self.s.hide_cursor, log)

    def before_frame(self, loop) -> None:
        acts = self.machine.tick()
        if acts.next_block:
            next_block(loop)
        if acts.block_on is not None:
            loop.controls.set_enabled(acts.block_on)
        if self.feed is not None:
            self.feed.attracting = acts.attract
        frame = self.feed.camera_frame() if acts.probe else None
        if frame is not None:
            self.machine.saw(loop.pipeline.is_subject(loop.pipeline.classify(frame)))

    def after_frame(self, pipeline, res) -> None:
        if self.feed is not None and not self.feed.attracting:
            self.machine.saw(pipeline.is_subject(res.before))

    def draw(self, frame: np.ndarray, res, hud) -> np.ndarray:
        notice = ""
        if self.machine.attracting:
            notice = "demo clip - show the camera " + ("something" if self.any_object else "an animal")
        text = strip_text(hud, res.block is not None, self.s)
        return render_kiosk(frame, res.after_frame, res.before, res.after, res.box, hud, self.screen, text, notice,
                            fooled=res.fooled)

    def close(self) -> None:
        if self.xdisplay is not None:
            self.xdisplay.close()
