"""One frame's journey, top to bottom:

    frame ─▶ paste(block at the box) ─▶ classify [before, after] as one pair ─▶ localise (CAM of before)
          ─▶ FrameResult (labels, after-frame, box, timings)

The box used for the paste comes from the previous frame's activation map (smoothed), so one batched
inference serves both labels and the next box. Every stage is a plain function on numpy frames.
"""
from __future__ import annotations

import math
import time

import numpy as np

from blocks import Block, paste_box, paste_frame
from models import is_animal
from models.preprocess import input_region, to_tensor

from .frame import Box, FrameResult, Pred, ms_since
from .localize import BoxSmoother, cam_box, sliding_box, to_pixels


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def make_pred(probs: np.ndarray, names: list[str], k: int = 3) -> Pred:
    top = np.argsort(probs)[::-1][:k]
    i = int(top[0])
    return Pred(i, names[i], float(probs[i]), [(names[int(j)], float(probs[int(j)])) for j in top], is_animal(i))


def place(box: Box, side: float) -> tuple[float, float]:
    """Block centre on the box centre, moved just enough to keep the whole block inside the frame."""
    x, y, w, h = box
    half = min(side / 2, 0.5)
    return (min(max(x + w / 2, half), 1 - half), min(max(y + h / 2, half), 1 - half))


class Pipeline:
    """Holds what lasts across frames (backend, blocks, box smoother); `step(frame)` does one frame."""

    def __init__(self, backend, blocks: list[Block], names: list[str], localize, block_scale: float = 1.0,
                 block_index: int = 0, enabled: bool = True):
        self.backend, self.blocks, self.names = backend, blocks, names
        self.loc = localize
        self.scale = block_scale
        self.index = block_index
        self.enabled = enabled
        self.smoother = BoxSmoother(localize.smoothing, localize.hold_frames)
        self.fc = backend.fc_weight

    @property
    def block(self) -> Block | None:
        return self.blocks[self.index] if self.blocks else None

    def cycle(self, step: int) -> None:
        if self.blocks:
            self.index = (self.index + step) % len(self.blocks)

    def is_subject(self, pred: Pred) -> bool:
        """Whether the block goes on what `pred` sees: an animal (or, with classes 'any', anything) sure enough."""
        return (pred.is_animal or self.loc.classes == "any") and pred.prob >= self.loc.confidence

    def _input(self, frame: np.ndarray) -> np.ndarray:
        s = self.backend.input_size
        return to_tensor(frame, s).numpy()

    def classify(self, frame: np.ndarray) -> Pred:
        """The classifier's labels for one frame, nothing pasted (kiosk mode's look at the camera)."""
        return make_pred(softmax(self.backend.infer(self._input(frame)[None])[0])[0], self.names)

    def _classify_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        return softmax(self.backend.infer(np.stack([self._input(c) for c in crops]))[0])

    def step(self, frame: np.ndarray) -> FrameResult:
        ms: dict[str, float] = {}
        t = time.perf_counter()
        block, box = self.block, self.smoother.box
        side = math.sqrt(block.info.area) * self.scale if block is not None else 0.0
        pasted = self.enabled and block is not None and box is not None
        after_frame, changed = frame, None
        if pasted:
            center = place(tuple(box), side)
            after_frame = paste_frame(frame, block.image, center, side)
            changed = input_region(paste_box(frame.shape, block.image.shape[-1], center, side), frame.shape,
                                   self.backend.input_size)    # where the classifier inputs differ
        ms["paste"] = ms_since(t)

        t = time.perf_counter()
        if pasted:     # the pair shares all but the block's surroundings: infer_pair recomputes only those
            logits, fmap = self.backend.infer_pair(self._input(frame), self._input(after_frame), changed)
        else:
            logits, fmap = self.backend.infer(self._input(frame)[None])
        probs = softmax(logits)
        ms["infer"] = ms_since(t)

        t = time.perf_counter()
        before = make_pred(probs[0], self.names)
        after = make_pred(probs[-1], self.names)
        used_box = to_pixels(tuple(box), frame.shape[1], frame.shape[0]) if pasted else None
        found = None
        if self.is_subject(before):
            if self.loc.method == "cam":
                found = cam_box(fmap[0], self.fc, before.index, self.loc.threshold)
            elif self.loc.method == "sliding":
                found = sliding_box(self._classify_crops, frame, before.index)
            else:
                found = (0.3, 0.3, 0.4, 0.4)
        self.smoother.update(found)
        ms["localize"] = ms_since(t)
        return FrameResult(before, after, after_frame, used_box, block if pasted else None,
                           round(side * side, 5) if pasted else None, ms)
