"""What a presenter (keys), the kiosk and the background maker may change during a run, behind one small typed
interface: which block, whether it is on, whether the frame is mirrored.

    state = ControlState(blocks, index=0, enabled=True, mirror=False)
    state.cycle(1); state.select(2); state.toggle_block(); state.set_enabled(False); state.toggle_mirror()
    state.add_block(block)              # the maker: joins the cycle (and becomes current)
    controls = state.snapshot()         # a frozen Controls, taken ONCE per frame by the run loop

The pipeline's `step(frame, controls)` reads the block and its on/off from the snapshot it is given, never from
the live state: the keys change the state on the main thread while a worker thread classifies the next frame,
and a block switched in the middle of a step must not give a result naming another block than the one pasted.
Every change takes a lock, so a snapshot is always one consistent moment.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blocks import Block


@dataclass(frozen=True)
class Controls:
    """One moment's controls: what a frame is made with."""
    block: Block | None = None      # the current block (None: there are no blocks)
    block_index: int = 0            # its place in the cycle (n / p / 1-9)
    block_count: int = 0            # how many blocks the cycle has
    enabled: bool = True            # the block is on (space)
    mirror: bool = False            # the frame is flipped left-right as it comes from the source (m)

    @property
    def paste(self) -> bool:
        """The block goes on the frame (when there is an animal to put it on)."""
        return self.enabled and self.block is not None


class ControlState:
    """The live controls: changed by typed methods (thread-safe), read as `snapshot()`s."""

    def __init__(self, blocks=(), index: int = 0, enabled: bool = True, mirror: bool = False):
        self._lock = threading.Lock()
        self._blocks: list = list(blocks)
        self._index = index % len(self._blocks) if self._blocks else 0
        self._enabled, self._mirror = bool(enabled), bool(mirror)

    def snapshot(self) -> Controls:
        with self._lock:
            block = self._blocks[self._index] if self._blocks else None
            return Controls(block, self._index, len(self._blocks), self._enabled, self._mirror)

    # ------------------------------------------------------------------ reading (each a snapshot's field)
    @property
    def blocks(self) -> tuple:
        with self._lock:
            return tuple(self._blocks)

    @property
    def block(self) -> Block | None:
        return self.snapshot().block

    @property
    def index(self) -> int:
        return self.snapshot().block_index

    @property
    def enabled(self) -> bool:
        return self.snapshot().enabled

    @property
    def mirror(self) -> bool:
        return self.snapshot().mirror

    # ------------------------------------------------------------------ changing
    def toggle_block(self) -> bool:
        """The block on ↔ off; returns the new state."""
        with self._lock:
            self._enabled = not self._enabled
            return self._enabled

    def set_enabled(self, on: bool) -> None:
        with self._lock:
            self._enabled = bool(on)

    def cycle(self, step: int) -> Block | None:
        """`step` blocks on in the cycle (wrapping); returns the new current block."""
        with self._lock:
            if self._blocks:
                self._index = (self._index + step) % len(self._blocks)
                return self._blocks[self._index]
            return None

    def select(self, index: int) -> Block | None:
        """Block number `index` (0-based) of the cycle becomes current; returns it, or None (and nothing changes)
        when the cycle has no such block."""
        with self._lock:
            if 0 <= index < len(self._blocks):
                self._index = index
                return self._blocks[index]
            return None

    def add_block(self, block, select: bool = True) -> int:
        """`block` joins the cycle unless a block from the same file is in it already; with `select` it becomes
        current. Returns its place in the cycle."""
        with self._lock:
            known = [i for i, b in enumerate(self._blocks)
                     if b is block or (block.path is not None and b.path == block.path)]
            if known:
                i = known[0]
            else:
                self._blocks.append(block)
                i = len(self._blocks) - 1
            if select:
                self._index = i
            return i

    def toggle_mirror(self) -> bool:
        """Mirroring on ↔ off; returns the new state."""
        with self._lock:
            self._mirror = not self._mirror
            return self._mirror

    def set_mirror(self, on: bool) -> None:
        with self._lock:
            self._mirror = bool(on)
