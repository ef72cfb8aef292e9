"""Where the app puts a block, as random parameters drawn apart from a deterministic apply (as in kornia).

The live app does not paste at a random spot of a still photo: it pastes on the animal, centred on the box
of the classifier's own activation map (CAM), axis-aligned and at full brightness, in frames that move like
a hand-held camera. Training and evaluation draw the same situations here:

- :func:`sample_camera` / :func:`camera`: a hand-held camera's view of a photo — zoom ×1.0–1.15, a pan
  inside the zoomed-in slack, roll ±5° (reflected at the corners the roll uncovers); for training also
  mirrored and stretched (the app squashes a 4:3 frame into the square input);
- :func:`cam_boxes`: the CAM box of each clean photo's top class (``models.cam``, the app's localiser);
- :func:`view_boxes`: those boxes carried through the camera's motion;
- :func:`animal_params`: the block centred on the box as the app's ``place`` does, jittered as the box
  smoother jitters (a share of placements anywhere, so a block still works when the box is off).

Boxes are (x, y, w, h) as fractions of the image; the paste parameters are :class:`blocks.paste.PasteParams`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from models.cam import THRESHOLD, cam_box

from .paste import EVAL_RANGES, PasteParams, PasteRanges, extent, sample_params, side_for_area, uniform


@dataclass(frozen=True)
class CameraRanges:
    zoom: tuple[float, float] = (1.0, 1.15)
    roll: float = 5.0          # degrees, ±
    pan: float = 1.0           # share of the zoomed-in slack the view may move across
    flip: bool = False         # mirror half of the views (training: more photos from the same photos)
    stretch: float = 1.0       # aspect change up to ×stretch either way (a 4:3 frame squashed to a square input)


HANDHELD = CameraRanges()
STILL = CameraRanges(zoom=(1.0, 1.0), roll=0.0, pan=0.0)
CENTRE_BOX = (0.25, 0.25, 0.5, 0.5)     # a photo's box when its CAM has no region


@dataclass
class CameraParams:
    zoom: torch.Tensor        # N
    pan: torch.Tensor         # N×2, view centre offset in normalised [-1, 1] source coordinates
    roll: torch.Tensor        # N, degrees
    mirror: torch.Tensor      # N, -1 (mirrored) or 1
    stretch: torch.Tensor     # N, width ÷ height of what the view shows, relative to the photo

    def __len__(self) -> int:
        return self.zoom.shape[0]

    def __getitem__(self, idx) -> CameraParams:
        return CameraParams(self.zoom[idx], self.pan[idx], self.roll[idx], self.mirror[idx], self.stretch[idx])


def sample_camera(n: int, ranges: CameraRanges = HANDHELD, generator: torch.Generator | None = None) -> CameraParams:
    zoom = uniform(*ranges.zoom, (n,), generator)
    slack = (1 - 1 / zoom) * ranges.pan
    pan = uniform(-1, 1, (n, 2), generator) * slack[:, None]
    roll = uniform(-ranges.roll, ranges.roll, (n,), generator)
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if ranges.flip else torch.ones(n)
    stretch = torch.exp(uniform(-math.log(ranges.stretch), math.log(ranges.stretch), (n,), generator))
    return CameraParams(zoom, pan, roll, mirror, stretch)


def _view_matrix(p: CameraParams) -> torch.Tensor:
    """N×2×3: view point q (normalised) -> source point R(roll)·M·S·q / zoom + pan (M mirrors x or not,
    S = diag(√stretch, 1/√stretch) shows a wider or taller part of the photo)."""
    rad = torch.deg2rad(p.roll)
    cos, sin = rad.cos() / p.zoom, rad.sin() / p.zoom
    sx, sy = p.stretch.sqrt() * p.mirror, 1 / p.stretch.sqrt()
    return torch.stack([torch.stack([cos * sx, -sin * sy, p.pan[:, 0]], 1),
                        torch.stack([sin * sx, cos * sy, p.pan[:, 1]], 1)], 1)


def camera(images: torch.Tensor, p: CameraParams) -> torch.Tensor:
    """The camera's views of N×3×H×W images (differentiable; the identity for zoom 1, no pan, no roll)."""
    theta = _view_matrix(p).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def view_boxes(boxes: torch.Tensor, p: CameraParams) -> torch.Tensor:
    """N×4 boxes (fractions of the photo) -> the same boxes in the camera's views (centre moved, size ×zoom)."""
    centre = (boxes[:, :2] + boxes[:, 2:] / 2) * 2 - 1                     # normalised source point
    rad = torch.deg2rad(p.roll)
    d = (centre - p.pan) * p.zoom[:, None]
    sx, sy = p.stretch.sqrt() * p.mirror, 1 / p.stretch.sqrt()
    q = torch.stack([(rad.cos() * d[:, 0] + rad.sin() * d[:, 1]) / sx,
                     (-rad.sin() * d[:, 0] + rad.cos() * d[:, 1]) / sy], 1)
    size = boxes[:, 2:] * p.zoom[:, None] / torch.stack([sx.abs(), sy], 1)
    return torch.cat([(q + 1) / 2 - size / 2, size], 1)


@torch.no_grad()
def cam_boxes(model, photos: torch.Tensor, threshold: float = THRESHOLD,
              batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(N×4 CAM boxes of each photo's top class, N top-1 classes). A photo whose CAM has no region gets the
    centre box (CENTRE_BOX)."""
    device = next(model.parameters()).device
    fc = model.fc_weight.detach().cpu().numpy()
    boxes, tops = [], []
    for chunk in photos.split(batch):
        logits, fmap = model.features(chunk.to(device))
        top = logits.argmax(1).cpu()
        fmap = fmap.cpu().numpy()
        for i, cls in enumerate(top.tolist()):
            boxes.append(cam_box(fmap[i], fc, cls, threshold) or CENTRE_BOX)
        tops.append(top)
    return torch.tensor(boxes, dtype=torch.float32), torch.cat(tops)


def place(boxes: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """N×2 block centres on the boxes' centres, moved just enough to keep the whole block inside (the app
    places its one block by this rule too)."""
    half = (side / 2).clamp(max=0.5)[:, None]
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    return torch.minimum(torch.maximum(centre, half), 1 - half)


def animal_params(boxes: torch.Tensor, area: float, generator: torch.Generator | None = None,
                  jitter: float = 0.15, random_share: float = 0.0, scale: tuple[float, float] = (1.0, 1.0),
                  ranges: PasteRanges | None = None) -> PasteParams:
    """Paste parameters for N images whose animal boxes are `boxes` (N×4): the block centred on the box,
    its centre jittered by a normal of `jitter` × the box's size per axis (the box smoother's lag and the
    CAM's wobble), axis-aligned, unlit, side ×`scale`; a `random_share` of them anywhere in the image
    (drawn from `ranges`), for when the box is off."""
    n = boxes.shape[0]
    side = side_for_area(area) * uniform(*scale, (n,), generator)
    wobble = torch.randn((n, 2), generator=generator) * jitter * boxes[:, 2:]
    centre = place(torch.cat([boxes[:, :2] + wobble, boxes[:, 2:]], 1), side)
    p = PasteParams(centre, side, torch.zeros(n), torch.ones(n))
    if random_share > 0:
        anywhere = torch.rand(n, generator=generator) < random_share
        r = sample_params(n, area, ranges or EVAL_RANGES, generator)
        pick = anywhere[:, None]
        p = PasteParams(torch.where(pick, r.center, p.center), torch.where(anywhere, r.side, p.side),
                        torch.where(anywhere, r.angle, p.angle), torch.where(anywhere, r.brightness, p.brightness))
    return p


def pixel_boxes(p: PasteParams, size: int) -> torch.Tensor:
    """N×4 (y0, y1, x0, x1) integer pixel bounds of each pasted block (rotation included) on a size×size
    image, one pixel of margin for the soft edge; clipped to the image."""
    half = extent(p.side, p.angle).clamp(max=0.5) * size
    cx, cy = p.center[:, 0] * size, p.center[:, 1] * size
    lo = lambda c: (c - half - 1).floor().clamp(min=0)           # noqa: E731
    hi = lambda c: (c + half + 1).ceil().clamp(max=size)          # noqa: E731
    return torch.stack([lo(cy), hi(cy), lo(cx), hi(cx)], 1).long()
