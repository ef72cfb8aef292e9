"""Judge a block on photos, `trials` pastes per photo, in one of two placements:

- ``random``: a still photo, the block anywhere (fully inside) at rotation ±20°, scale ×0.85–1.15,
  brightness ×0.8–1.2 — the project's first protocol, the hardest case for a block;
- ``animal``: as the live app pastes it — a hand-held camera's view of the photo (zoom ×1.0–1.15, pan,
  roll ±5°), the block axis-aligned on the CAM box of the photo's top class, jittered as the box smoother
  jitters (``blocks.placement``).

Photos whose clean top-1 already is the target are left out (there is nothing to change), as the live
figure leaves out frames whose before-label is the target. Chickens (ImageNet ``cock``, ``hen``) are
reported apart. The random parameters depend only on the seed, so every block meets the same pastes.
"""
from __future__ import annotations

import torch

from models import CHICKENS

from .paste import EVAL_RANGES, PasteParams, PasteRanges, paste, sample_params
from .placement import HANDHELD, STILL, animal_params, cam_boxes, camera, sample_camera, view_boxes

PLACEMENTS = ("animal", "random")


def draw_trials(model, photos: torch.Tensor, area: float, trials: int, placement: str, seed: int = 0,
                ranges: PasteRanges = EVAL_RANGES, boxes: tuple[torch.Tensor, torch.Tensor] | None = None):
    """(photo index per trial, camera params, paste params, clean top-1 per photo) for every trial. `boxes`:
    the photos' `cam_boxes` when already known (a check run again and again needs them once)."""
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    gen = torch.Generator().manual_seed(seed)
    boxes, top = boxes if boxes is not None else cam_boxes(model, photos)
    idx = torch.arange(len(photos)).repeat_interleave(trials)
    if placement == "random":
        cam = sample_camera(len(idx), STILL, gen)
        return idx, cam, sample_params(len(idx), area, ranges, gen), top
    cam = sample_camera(len(idx), HANDHELD, gen)
    return idx, cam, animal_params(view_boxes(boxes[idx], cam), area, gen), top


def _slice(p: PasteParams, sl) -> PasteParams:
    return PasteParams(p.center[sl], p.side[sl], p.angle[sl], p.brightness[sl])


@torch.no_grad()
def evaluate_block(model, photos: torch.Tensor, block: torch.Tensor, target: int, area: float, trials: int = 20,
                   seed: int = 0, placement: str = "random", ranges: PasteRanges = EVAL_RANGES,
                   batch: int = 32, boxes: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """photos: N×3×S×S in [0,1]. Returns the targeted success (share of pastes whose top-1 is the target),
    untargeted success (top-1 no longer the clean class), mean target probability, the same per photo
    (`per_photo`: None for a photo left out), the chickens' targeted success, and counts."""
    device = next(model.parameters()).device
    idx, cam, params, top = draw_trials(model, photos, area, trials, placement, seed, ranges, boxes)
    hits = torch.zeros(len(photos))
    moved = torch.zeros(len(photos))
    prob = torch.zeros(len(photos))
    for start in range(0, len(idx), batch):
        sl = slice(start, start + batch)
        views = camera(photos[idx[sl]].to(device), cam[sl])
        probs = model(paste(views, block.to(device), _slice(params, sl))).softmax(1).cpu()
        pred = probs.argmax(1)
        hits.index_add_(0, idx[sl], (pred == target).float())
        moved.index_add_(0, idx[sl], (pred != top[idx[sl]]).float())
        prob.index_add_(0, idx[sl], probs[:, target])
    keep = top != target
    chick = keep & torch.isin(top, torch.tensor(sorted(CHICKENS)))
    share = lambda v, m: float(v[m].sum() / (m.sum() * trials)) if m.any() else None   # noqa: E731
    return {"placement": placement, "area": area, "targeted_success": share(hits, keep),
            "untargeted_success": share(moved, keep), "mean_target_prob": share(prob, keep),
            "chickens": share(hits, chick), "n_chickens": int(chick.sum()),
            "n_photos": int(keep.sum()), "n_left_out": int((~keep).sum()), "n_trials": int(keep.sum()) * trials,
            "per_photo": [round(float(h) / trials, 4) if k else None for h, k in zip(hits, keep)],
            "top1": [int(t) for t in top]}
