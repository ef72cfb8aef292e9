"""One frame's journey, top to bottom:

    frame ─▶ shrink to the classifier's input ─▶ paste(block at the box) ─▶ classify [before, after] as one
          pair ─▶ localise (CAM of before) ─▶ FrameResult (labels, after-frame, box, timings)

The box used for the paste comes from the previous frame's activation map (smoothed), so one batched
inference serves both labels and the next box. On the frame where an animal first appears there is no box
yet: that frame is localised first and pasted at once (one more inference), so the right pane never shows
an animal without its block.

Two spots on the animal (`localize.fallback`): the block goes on the centre of the animal's CAM box; in a
frame where that does not turn the right pane into the target, it is tried once more, in the same frame, at
the CAM's centre of mass (where the class's evidence is densest: on a dog's portrait the forehead rather
than the chest), and stays there while it works. The extra inference runs only on such frames.

The block is pasted twice at one placement: into the classifier's input at the input's own pixels (the
block is trained as so many input pixels: it reaches the classifier exactly as trained, whatever the
camera's resolution) and into the frame, for the eye and the recording. Pasting it into a 640×480 frame
and shrinking the frame instead blurs it (upscale, then the shrink's anti-aliasing): the shipped hog fell
from 97% to 92% of held-out pastes that way. Every stage is a plain function on numpy frames.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from blocks import Block, paste_box, paste_frame, placement
from models import ANIMALS, is_animal
from models.preprocess import shrink, to_input

from .controls import Controls, ControlState
from .frame import Box, FrameResult, Pred, ms_since
from .localize import BoxSmoother, cam_box, sliding_box, to_pixels


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def make_pred(probs: np.ndarray, names: list[str], k: int = 3) -> Pred:
    top = np.argsort(probs)[::-1][:k]
    i = int(top[0])
    animals = probs[ANIMALS.start:ANIMALS.stop]
    return Pred(i, names[i], float(probs[i]), [(names[int(j)], float(probs[int(j)])) for j in top], is_animal(i),
                float(animals.sum()), ANIMALS.start + int(np.argmax(animals)))


def place(box: Box, side: float) -> tuple[float, float]:
    """Block centre on the box centre, moved just enough to keep the whole block inside the frame: the rule
    block training and evaluation use (`blocks.placement.place`), for one box."""
    x, y = placement.place(torch.tensor([box], dtype=torch.float64), torch.tensor([side], dtype=torch.float64))[0]
    return float(x), float(y)


class Pipeline:
    """Holds what lasts across frames (backend, box smoother, the controls); `step(frame, controls)` does one
    frame with the block and its on/off of one `controls` snapshot (app.controls)."""

    def __init__(self, backend, blocks: list[Block], names: list[str], localize, block_scale: float = 1.0,
                 block_index: int = 0, enabled: bool = True, mirror: bool = False):
        self.backend, self.names = backend, names
        self.controls = ControlState(blocks, block_index, enabled, mirror)   # keys, kiosk and maker change these
        self.loc = localize
        self.scale = block_scale
        self.smoother = BoxSmoother(localize.smoothing, localize.hold_frames)
        self.massed = BoxSmoother(localize.smoothing, localize.hold_frames)   # the fallback spot (CAM mass)
        self.spot = 0                       # where the block goes: 0 the box's centre, 1 the fallback spot
        self.fc = backend.fc_weight

    @property
    def block(self) -> Block | None:
        """The current block (read-only: change it through `controls`)."""
        return self.controls.block

    @property
    def blocks(self) -> tuple[Block, ...]:
        return self.controls.blocks

    def subject(self, pred: Pred) -> int | None:
        """The class whose activation map places the block, None when the block goes on nothing:
        - an animal on top, the animal classes together at least `confidence` sure (a cat the model splits
          among five cat breeds is still a sure animal): the top class;
        - another class on top but the animal classes together at least `animal_mass` sure (a rabbit on a
          couch: 'studio couch' 30%, the rabbits 45%): the likeliest animal; once the block is on an animal
          (a box is held), `keep_mass` is enough: the animal seen at 40% and then at 30% is the same animal;
        - with classes 'any': the top class when it is `confidence` sure (a mug, a phone...)."""
        if self.loc.classes == "any":
            return pred.index if pred.prob >= self.loc.confidence else None
        if pred.is_animal and max(pred.prob, pred.animal_prob) >= self.loc.confidence:
            return pred.index
        mass = min(self.loc.keep_mass, self.loc.animal_mass) if self.smoother.box is not None else self.loc.animal_mass
        if pred.animal_index is not None and pred.animal_prob >= mass:
            return pred.animal_index
        return None

    def is_subject(self, pred: Pred) -> bool:
        return self.subject(pred) is not None

    def _small(self, frame: np.ndarray) -> np.ndarray:
        """The frame at the classifier's input size (BGR uint8 S×S)."""
        s = self.backend.input_size
        return frame if frame.shape[:2] == (s, s) else shrink(frame, s)

    def _input(self, frame: np.ndarray) -> np.ndarray:
        return to_input(self._small(frame))

    def classify(self, frame: np.ndarray) -> Pred:
        """The classifier's labels for one frame, nothing pasted (kiosk mode's look at the camera)."""
        return make_pred(softmax(self.backend.infer(self._input(frame)[None])[0])[0], self.names)

    def _classify_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        return softmax(self.backend.infer(np.stack([self._input(c) for c in crops]))[0])

    def _paste(self, block: Block, frame: np.ndarray, small: np.ndarray, box: Box):
        """(frame with `block`, the classifier's pasted input, the input pixels that changed): one
        placement, pasted at the frame's pixels for the eye and at the input's own pixels for the classifier."""
        side = math.sqrt(block.info.area) * self.scale
        center = place(tuple(box), side)
        after_small = paste_frame(small, block.image, center, side)
        changed = paste_box(small.shape, block.image.shape[-1], center, side)
        return paste_frame(frame, block.image, center, side), to_input(after_small), changed

    def _localize(self, before: Pred, fmap: np.ndarray, frame: np.ndarray) -> Box | None:
        """The box of the class `subject(before)` names (None when there is none); the smoother follows it.
        With `fallback` (cam), a second smoother follows the same region's box moved onto its centre of mass."""
        found = massed = None
        cls = self.subject(before)
        if cls is not None:
            if self.loc.method == "cam":
                found = cam_box(fmap, self.fc, cls, self.loc.threshold)
                if self.loc.fallback:
                    massed = cam_box(fmap, self.fc, cls, self.loc.threshold, aim="mass")
            elif self.loc.method == "sliding":
                found = sliding_box(self._classify_crops, frame, cls)
            else:
                found = (0.3, 0.3, 0.4, 0.4)
        self.massed.update(massed)
        tracked = self.smoother.update(found)
        if tracked is None or self.massed.box is None:
            self.spot = 0                   # a new animal starts at its box's centre
        return tracked

    def _spot_box(self, spot: int) -> np.ndarray | None:
        """The smoothed box of a spot: 0 the CAM box, 1 the same box on the CAM's centre of mass."""
        return (self.smoother, self.massed)[spot].box

    def _fall_back(self, block: Block, frame: np.ndarray, small: np.ndarray, current: tuple) -> tuple:
        """`current`: (after-probabilities, frame with the block, box) at this frame's spot. When the block
        there does not turn the frame into its target (and `localize.fallback`), it is tried at the other
        spot (box centre or CAM centre of mass) in the same frame; the app switches to that spot if it scores
        the target higher. Returns the (after-probabilities, frame with the block, box) to show."""
        probs, target = current[0], block.info.target
        other = 1 - self.spot
        box = self._spot_box(other)
        if not self.loc.fallback or int(probs.argmax()) == target or box is None:
            return current
        after_frame, pasted_input, _ = self._paste(block, frame, small, box)
        tried = softmax(self.backend.infer(pasted_input[None])[0])[0]
        if tried[target] <= probs[target]:
            return current
        self.spot = other
        return tried, after_frame, box

    def step(self, frame: np.ndarray, controls: Controls | None = None) -> FrameResult:
        """One frame with the block and on/off of `controls` (default: a snapshot of the live controls taken
        now). The block is read from that snapshot once, so the result names the block that was pasted."""
        controls = self.controls.snapshot() if controls is None else controls
        block = controls.block
        ms: dict[str, float] = {}
        t = time.perf_counter()
        small = self._small(frame)
        clean = to_input(small)
        can_paste = controls.paste
        box = self._spot_box(self.spot) if can_paste else None
        after_frame = frame
        if box is not None:
            after_frame, pasted_input, changed = self._paste(block, frame, small, box)
        ms["paste"] = ms_since(t)

        t = time.perf_counter()
        if box is not None:  # the pair shares all but the block's surroundings: infer_pair recomputes only those
            logits, fmap = self.backend.infer_pair(clean, pasted_input, changed)
        else:
            logits, fmap = self.backend.infer(clean[None])
        probs = softmax(logits)
        after_probs = probs[-1]
        if box is not None:
            after_probs, after_frame, box = self._fall_back(block, frame, small, (after_probs, after_frame, box))
        ms["infer"] = ms_since(t)

        t = time.perf_counter()
        before = make_pred(probs[0], self.names)
        after = make_pred(after_probs, self.names)
        tracked = self._localize(before, fmap[0], frame)      # the smoothed box the next frame pastes on
        ms["localize"] = ms_since(t)
        if box is None and can_paste and tracked is not None:   # the animal has just appeared: paste now
            t = time.perf_counter()
            box = tracked
            after_frame, pasted_input, _ = self._paste(block, frame, small, box)
            after_probs = softmax(self.backend.infer(pasted_input[None])[0])[0]
            after_probs, after_frame, box = self._fall_back(block, frame, small, (after_probs, after_frame, box))
            after = make_pred(after_probs, self.names)
            ms["infer"] += ms_since(t)
        if box is None:
            return FrameResult(before, after, after_frame, None, None, None, ms)
        return FrameResult(before, after, after_frame, to_pixels(tuple(box), frame.shape[1], frame.shape[0]),
                           block, round(block.info.area * self.scale ** 2, 5), ms)
