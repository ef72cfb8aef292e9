"""THE paste: random parameters drawn apart from a deterministic, differentiable apply (as in kornia).

Geometry lives in normalised image coordinates, so the same parameters mean the same thing on a
224×224 classifier input and on a 640×480 camera frame that is later resized to 224×224:

- ``center``: (x, y) of the block centre as fractions of the image width and height, in [0, 1];
- ``side``: the block's side as a fraction of the image side (a block of ``area`` a has side √a);
- ``angle``: rotation in degrees (counter-clockwise as seen on screen);
- ``brightness``: multiplies the block's pixels (lighting), result clamped to [0, 1].

Block training (EOT) and evaluation call :func:`paste`; the live app pastes on camera frames with its
OpenCV twin, :func:`blocks.paste_cv.paste_frame` (same parameters, same geometry).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PasteRanges:
    """Where random parameters come from: rotation ±angle°, scale ×[lo, hi], brightness ×[lo, hi]."""
    angle: float = 20.0
    scale: tuple[float, float] = (0.85, 1.15)
    brightness: tuple[float, float] = (0.8, 1.2)


EVAL_RANGES = PasteRanges()                                                  # the evaluation's ranges
TRAIN_RANGES = PasteRanges(angle=25.0, scale=(0.8, 1.2), brightness=(0.7, 1.3))  # a margin beyond them


@dataclass
class PasteParams:
    center: torch.Tensor      # N×2, fractions of width and height
    side: torch.Tensor        # N
    angle: torch.Tensor       # N, degrees
    brightness: torch.Tensor  # N

    def __len__(self) -> int:
        return self.side.shape[0]


def uniform(lo, hi, size, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform random numbers in [lo, hi) of shape `size`: the one range draw of every sampler here."""
    return lo + (hi - lo) * torch.rand(size, generator=generator)


def side_for_area(area: float) -> float:
    """Side (fraction of the image side) of a square block covering `area` of the image."""
    return math.sqrt(area)


def extent(side: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Half-width of the rotated square's bounding box, as a fraction of the image side."""
    rad = torch.deg2rad(angle)
    return side / 2 * (rad.cos().abs() + rad.sin().abs())


def sample_params(n: int, area: float, ranges: PasteRanges = EVAL_RANGES,
                  generator: torch.Generator | None = None) -> PasteParams:
    """Random parameters; the rotated, scaled block always lies fully inside the image."""
    side = side_for_area(area) * uniform(*ranges.scale, (n,), generator)
    angle = uniform(-ranges.angle, ranges.angle, (n,), generator)
    half = extent(side, angle).clamp(max=0.5)
    center = half[:, None] + (1 - 2 * half[:, None]) * torch.rand((n, 2), generator=generator)
    return PasteParams(center, side, angle, uniform(*ranges.brightness, (n,), generator))


def paste(images: torch.Tensor, block: torch.Tensor, params: PasteParams) -> torch.Tensor:
    """Paste `block` (3×s×s or N×3×s×s, RGB [0,1]) into `images` (N×3×H×W) at `params`.

    Differentiable w.r.t. the block and the images; bilinear sampling with an anti-aliased edge.
    """
    n = images.shape[0]
    dev, dt = images.device, images.dtype
    if block.dim() == 3:
        block = block.unsqueeze(0).expand(n, -1, -1, -1)
    side = params.side.to(dev, dt)
    rad = torch.deg2rad(params.angle.to(dev, dt))
    cos, sin = rad.cos(), rad.sin()
    c = params.center.to(dev, dt) * 2 - 1                      # to [-1, 1]
    # output point p (normalised image coords) -> block point q = R(-θ)(p - c) / side; on screen y points
    # down, so R(-θ) with this sign turns the block counter-clockwise by θ as seen.
    a11, a12 = cos / side, -sin / side
    a21, a22 = sin / side, cos / side
    theta = torch.stack([
        torch.stack([a11, a12, -(a11 * c[:, 0] + a12 * c[:, 1])], dim=1),
        torch.stack([a21, a22, -(a21 * c[:, 0] + a22 * c[:, 1])], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    lit = (block.to(dev, dt) * params.brightness.to(dev, dt).view(n, 1, 1, 1)).clamp(0, 1)
    ones = torch.ones_like(lit[:, :1])
    sampled = F.grid_sample(torch.cat([lit, ones], dim=1), grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
    mask = sampled[:, 3:]
    return images * (1 - mask) + sampled[:, :3]

