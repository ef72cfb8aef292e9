"""Class activation map (CAM) from the classifier's own last feature map: where in the image a class is.

CAM = Σ_k w[c,k]·fmap[k] (fc weights times the final features), ReLU'd and normalised; the box of its
strongest connected region above a fraction of the peak (with ``aim="mass"`` moved onto the region's centre
of mass: where the class's evidence is densest, the app's fallback spot for the block). No extra model and no
extra forward pass: the app uses it to find the animal, and block training and evaluation use it to place
blocks where the app would.
Boxes are (x, y, w, h) as fractions of the image's width and height.
"""
from __future__ import annotations

import cv2
import numpy as np

Box = tuple[float, float, float, float]
THRESHOLD = 0.5      # the CAM region: above this fraction of its peak


def cam_map(fmap: np.ndarray, fc_weight: np.ndarray, cls: int) -> np.ndarray:
    """C×h×w feature map and 1000×C weights -> h×w CAM for class `cls`, ReLU'd, peak 1 (zeros if flat)."""
    cam = np.tensordot(fc_weight[cls], fmap, axes=(0, 0))
    cam = np.maximum(cam, 0)
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def cam_box(fmap: np.ndarray, fc_weight: np.ndarray, cls: int, threshold: float = THRESHOLD, upsample: int = 64,
            aim: str = "box") -> Box | None:
    """The box of the CAM region holding the most activation, in frame fractions; None if there is none.
    aim "box": the region's bounding box; "mass": a box of that size centred on the region's centre of mass."""
    cam = cam_map(fmap, fc_weight, cls)
    if cam.max() <= 0:
        return None
    big = cv2.resize(cam.astype(np.float32), (upsample, upsample), interpolation=cv2.INTER_LINEAR)
    mask = (big >= threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    mass = np.bincount(labels.ravel(), weights=big.ravel(), minlength=n)
    best = 1 + int(np.argmax(mass[1:]))
    x, y, w, h = stats[best, :4]
    if aim == "mass":
        weight = np.where(labels == best, big, 0)
        cy, cx = (np.array(np.nonzero(weight)) + 0.5) @ weight[weight > 0] / weight.sum()
        x, y = cx - w / 2, cy - h / 2
    return (x / upsample, y / upsample, w / upsample, h / upsample)
