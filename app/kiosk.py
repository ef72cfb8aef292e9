"""Kiosk mode's behaviour over time: a booth screen that keeps going without anyone touching a key.

- **attract loop**: when the camera has shown no animal for `attract_after_s` seconds (or is lost that long),
  the attract source (the built-in sample) plays instead; a camera frame is classified every `PROBE_S`
  seconds meanwhile, and `PROBES_BACK` probes in a row that see an animal bring the camera back;
- **auto-cycle**: the next library block every `cycle_s` seconds;
- **rhythm**: the block on for `block_on_s`, off for `block_off_s`, and again (so passers-by see the contrast).

`Kiosk` is the state machine, driven by a clock that tests replace; `AttractFeed` is the source that plays the
camera or the attract source as the machine says. Neither draws anything (see app/kiosk_view.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .config import KioskSettings
from .sources import Source


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
        now = clock()
        self.last_seen = self.cycled_at = self.rhythm_t0 = self.probed_at = now
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
        """Call once before each frame (and while the camera is lost)."""
        now = self.clock()
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
