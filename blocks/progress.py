"""The live progress line of `blocks make`, from its first second: the set-up's phases, then the training steps.

    loading photos 1200/2750
    CAM boxes 640/2400
    [########------------]  43%  step 340/800  ETA 5:12  check 91%  success 88%

On a terminal the line is rewritten in place (``\\r``) at most every `tty_every` seconds; elsewhere (a log
file, the app's background maker reading a pipe) a whole line is printed when the phase changes and then every
`line_every` seconds, so logs stay readable. Whole lines (`say`) clear the live line first and redraw it after.

The percentage is the training budget's fraction (steps and/or minutes, `blocks.train.Budget.progress`): the
app's background job (app.maker) reads it from these lines with :data:`PERCENT`, so the header's
``making king penguin 43%`` is this number, not an estimate of its own.
"""
from __future__ import annotations

import re
import sys
import time

LINE_SECONDS = 10.0            # seconds between lines when not on a terminal (app.maker's child lowers it)
PERCENT = re.compile(r"^\[[#-]+\]\s+(\d+)%")      # the training line's percentage, as app.maker reads it


def clock_text(seconds: float) -> str:
    """5:12, or 1:02:03 past an hour."""
    s = max(0, int(round(seconds)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class Progress:
    """One live status line. `phase(name, done, total)` during the set-up, `training(step, fraction, ...)` per
    step; `fraction` (0..1 of the training budget) and `percent` are what the line shows."""

    def __init__(self, stream=None, clock=time.monotonic, tty: bool | None = None, tty_every: float = 0.25,
                 line_every: float | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.tty_every = tty_every
        self.line_every = LINE_SECONDS if line_every is None else line_every
        self.fraction = 0.0
        self.text = ""                 # the line as it stands
        self.name = ""                 # the current phase ("training" once the steps have begun)
        self.started: float | None = None   # when training began (for the ETA)
        self.shown_at: float | None = None
        self.live = False              # a \r line is on the terminal

    @property
    def percent(self) -> int:
        return int(100 * min(1.0, max(0.0, self.fraction)))

    def phase(self, name: str, done: int | None = None, total: int | None = None) -> None:
        """A set-up phase: `loading photos 1200/2750`."""
        count = f" {done}/{total}" if done is not None and total is not None else ""
        self._set(name, f"{name}{count}")

    def training(self, step: int, fraction: float, steps: int | None = None, check: float | None = None,
                 success: float | None = None) -> None:
        """A training step: `fraction` of the budget done, the best held-out check so far, the running success."""
        now = self.clock()
        if self.started is None:
            self.started = now
        self.fraction = min(1.0, max(0.0, fraction))
        n = int(20 * self.fraction)
        elapsed = now - self.started
        eta = clock_text(elapsed / self.fraction - elapsed) if self.fraction > 0 else "?"
        text = f"[{'#' * n}{'-' * (20 - n)}] {self.percent:3d}%  step {step}/{steps or '…'}  ETA {eta}"
        text += f"  check {check:.0%}" if check is not None else ""
        text += f"  success {success:.0%}" if success is not None else ""
        self._set("training", text)

    def _set(self, name: str, text: str) -> None:
        now, new = self.clock(), name != self.name
        self.name, self.text = name, text
        every = self.tty_every if self.tty else self.line_every
        if new or self.shown_at is None or now - self.shown_at >= every:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self.shown_at = now
        if self.tty:
            self.stream.write(f"\r{self.text}\x1b[K")
            self.live = True
        else:
            self.stream.write(self.text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Take the live line off the terminal (before a whole line, or at the end)."""
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.live = False

    def say(self, message: str, log=None) -> None:
        """A whole line (through `log`, default this stream), the live line redrawn below it on a terminal."""
        self.clear()
        if log is None:
            self.stream.write(message + "\n")
            self.stream.flush()
        else:
            log(message)
        if self.tty and self.text:
            self._draw(self.clock())

    def wrap(self, log):
        """`log` made to keep the live line below whatever it prints."""
        return lambda message: self.say(message, log)

    def close(self) -> None:
        """The end: the last state stays on a terminal as a finished line."""
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
            self.live = False
