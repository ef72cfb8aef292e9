"""What the app passes between its parts: a frame's labels (`Pred`), the pipeline's answer for one frame
(`FrameResult`), boxes, and two small helpers every part uses (`as_bgr`, `ms_since`).

No drawing, no models: the pipeline, the renderer, the sinks and the sources all import from here.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from models.cam import Box  # noqa: F401  (x, y, w, h) as fractions of the frame

if TYPE_CHECKING:               # the renderer imports this module: it need not load torch for a type
    from blocks import Block

__all__ = ["Box", "FrameResult", "Pred", "as_bgr", "ms_since"]


@dataclass
class Pred:
    """One classification."""
    index: int
    name: str
    prob: float
    top: list[tuple[str, float]] = field(default_factory=list)  # top-3 (name, prob), best first
    is_animal: bool = True
    animal_prob: float = 0.0           # all animal classes together (a cat split among breeds is still sure)
    animal_index: int | None = None    # the likeliest animal class (the top class when that is an animal)


@dataclass
class FrameResult:
    """The pipeline's answer for one frame."""
    before: Pred
    after: Pred
    after_frame: np.ndarray
    box: list[int] | None              # [x, y, w, h] frame pixels of the animal box used for the paste
    block: Block | None                # the pasted block (None: nothing pasted)
    block_area: float | None           # share of the classifier input the pasted block covers
    ms: dict[str, float] = field(default_factory=dict)   # the pipeline's stage timings (paste, infer, localize)

    @property
    def fooled(self) -> bool:
        """A block was pasted and the after-label is its target."""
        return self.block is not None and self.after.index == self.block.info.target


def ms_since(t0: float) -> float:
    """Milliseconds since `t0` (a time.perf_counter() value)."""
    return (time.perf_counter() - t0) * 1e3


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Any 8-bit gray/BGR/BGRA frame as BGR uint8 H×W×3."""
    if frame.dtype != np.uint8:
        frame = cv2.convertScaleAbs(frame)
    if frame.ndim == 2 or frame.shape[2] == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame
