"""THE paste: random parameters drawn apart from a deterministic, differentiable apply (as in kornia).

Geometry lives in normalised image coordinates, so the same parameters mean the same thing on a
224×224 classifier input and on a 640×480 camera frame that is later resized to 224×224:

- ``center``: (x, y) of the block centre as fractions of the image width and height, in [0, 1];
- ``side``: the block's side as a fraction of the image side (a block of ``area`` a has side √a);
- ``angle``: rotation in degrees (counter-clockwise as seen on screen);
- ``brightness``: multiplies the block's pixels (lighting), result clamped to [0, 1].

Block training (EOT), evaluation and the live app all call :func:`paste`.
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
    def u(lo, hi, size=(n,)):
        return lo + (hi - lo) * torch.rand(size, generator=generator)
    side = side_for_area(area) * u(*ranges.scale)
    angle = u(-ranges.angle, ranges.angle)
    half = extent(side, angle).clamp(max=0.5)
    center = half[:, None] + (1 - 2 * half[:, None]) * torch.rand((n, 2), generator=generator)
    return PasteParams(center, side, angle, u(*ranges.brightness))


def fixed_params(center: tuple[float, float], side: float, angle: float = 0.0, brightness: float = 1.0,
                 n: int = 1) -> PasteParams:
    """The same placement for n images (the live app: the block on the animal's box)."""
    return PasteParams(torch.tensor([center] * n, dtype=torch.float32), torch.full((n,), float(side)),
                       torch.full((n,), float(angle)), torch.full((n,), float(brightness)))


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


def paste_frame(frame, block, center: tuple[float, float], side: float, angle: float = 0.0,
                brightness: float = 1.0):
    """:func:`paste` for one BGR uint8 frame, with OpenCV: the same geometry and blending (sampling grids
    agree to OpenCV's 1/32-pixel interpolation step), ~10× faster than grid_sample on a camera frame.

    `block` is the block as RGB float 3×s×s (tensor or array). Only the block's bounding box is touched;
    a new frame is returned. The live app pastes with this; training and evaluation use :func:`paste`.
    """
    import cv2
    import numpy as np

    blk = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
    s = blk.shape[-1]
    rgba = np.empty((s, s, 4), np.float32)
    rgba[..., :3] = np.clip(blk[::-1].transpose(1, 2, 0) * brightness, 0, 1) * 255    # BGR, lit, 0..255
    rgba[..., 3] = 1.0
    hgt, wid = frame.shape[:2]
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    # frame pixel (x, y) -> normalised p = ((2x+1)/W - 1, (2y+1)/H - 1) -> q = A (p - c) -> block pixel
    # u = ((q + 1) s - 1) / 2: all affine, composed into one 2×3 map (dst -> src, as grid_sample does).
    to_p = np.array([[2 / wid, 0, 1 / wid - 1], [0, 2 / hgt, 1 / hgt - 1], [0, 0, 1]])
    c = (center[0] * 2 - 1, center[1] * 2 - 1)
    a = np.array([[cos, -sin], [sin, cos]]) / side
    to_q = np.eye(3)
    to_q[:2, :2], to_q[:2, 2] = a, -a @ np.asarray(c)
    to_u = np.array([[s / 2, 0, (s - 1) / 2], [0, s / 2, (s - 1) / 2], [0, 0, 1]])
    m = to_u @ to_q @ to_p
    # the rotated block's bounding box in frame pixels, one pixel of margin for the soft edge
    corners = np.linalg.inv(m) @ np.array([[-0.5, s - 0.5, s - 0.5, -0.5], [-0.5, -0.5, s - 0.5, s - 0.5], [1] * 4])
    x0, y0 = (max(0, int(math.floor(v.min())) - 1) for v in corners[:2])
    x1 = min(wid, int(math.ceil(corners[0].max())) + 2)
    y1 = min(hgt, int(math.ceil(corners[1].max())) + 2)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]])
    sampled = cv2.warpAffine(rgba, (m @ shift)[:2], (x1 - x0, y1 - y0),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(0, 0, 0, 0))
    roi = out[y0:y1, x0:x1].astype(np.float32)
    mask = sampled[..., 3:]
    out[y0:y1, x0:x1] = np.clip(roi * (1 - mask) + sampled[..., :3] + 0.5, 0, 255).astype(np.uint8)
    return out
