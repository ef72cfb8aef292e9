"""Finding the animal: where to put the block.

- `cam_box` (from `models.cam`): class activation map from the classifier's own last feature map (no
  extra model, no extra forward pass); the box of its strongest connected region.
- `sliding_box`: the seed project's sliding window: classify crops, keep the one most sure of the class.
- `BoxSmoother`: exponential smoothing over frames, with a hold when the animal is briefly lost.

Boxes are (x, y, w, h) as fractions of the frame's width and height, so they fit any frame size.
"""
from __future__ import annotations

import numpy as np

from models.cam import Box, cam_box, cam_map  # noqa: F401  (the CAM lives with the model)


def sliding_windows(scales=(0.5, 0.7), stride: float = 0.5) -> list[Box]:
    """Square-in-fraction windows at each scale, overlapping by 1-stride, covering the frame."""
    out = []
    for s in scales:
        steps = max(1, int(np.ceil((1 - s) / (s * stride))) + 1)
        for i in np.linspace(0, 1 - s, steps):
            for j in np.linspace(0, 1 - s, steps):
                out.append((float(j), float(i), s, s))
    return out


def sliding_box(classify_crops, frame: np.ndarray, cls: int, windows: list[Box] | None = None) -> Box | None:
    """The seed's localiser: `classify_crops(list of BGR crops) -> probs (N×1000)`; the window most sure of `cls`."""
    windows = windows or sliding_windows()
    h, w = frame.shape[:2]
    crops = [frame[int(y * h):int((y + bh) * h), int(x * w):int((x + bw) * w)] for x, y, bw, bh in windows]
    probs = classify_crops(crops)
    best = int(np.argmax(probs[:, cls]))
    return windows[best]


class BoxSmoother:
    """EMA over boxes; keeps the last box for `hold` frames when detection drops, then lets go."""

    def __init__(self, smoothing: float = 0.6, hold: int = 15):
        self.smoothing, self.hold = smoothing, hold
        self.box: np.ndarray | None = None
        self.missed = 0

    def update(self, box: Box | None) -> Box | None:
        if box is None:
            self.missed += 1
            if self.missed > self.hold:
                self.box = None
        else:
            self.missed = 0
            new = np.asarray(box, dtype=np.float64)
            self.box = new if self.box is None else self.smoothing * self.box + (1 - self.smoothing) * new
        return None if self.box is None else tuple(float(v) for v in self.box)


def to_pixels(box: Box | None, width: int, height: int) -> list[int] | None:
    if box is None:
        return None
    x, y, w, h = box
    return [int(round(x * width)), int(round(y * height)), int(round(w * width)), int(round(h * height))]
