"""Evaluate a block as the issue defines it: pasted at its area, at random position (fully inside),
rotation ±20°, scale ×[0.85, 1.15], brightness ×[0.8, 1.2], `trials` times on every photo."""
from __future__ import annotations

import torch

from .paste import EVAL_RANGES, PasteRanges, paste, sample_params


@torch.no_grad()
def evaluate_block(model, photos: torch.Tensor, block: torch.Tensor, target: int, area: float, trials: int = 20,
                   seed: int = 0, ranges: PasteRanges = EVAL_RANGES, batch: int = 32) -> dict:
    """photos: N×3×S×S in [0,1]. Returns targeted/untargeted success, mean target prob, counts, and
    `per_photo`: the targeted success on each photo (in order)."""
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    clean = torch.cat([model(p.to(device)).argmax(1).cpu() for p in photos.split(batch)])
    idx = torch.arange(len(photos)).repeat_interleave(trials)
    params = sample_params(len(idx), area, ranges, gen)        # drawn once: the same for every block
    hit = miss_clean = 0
    prob_sum = 0.0
    per_photo = torch.zeros(len(photos))
    for start in range(0, len(idx), batch):
        sl = slice(start, start + batch)
        sub = type(params)(params.center[sl], params.side[sl], params.angle[sl], params.brightness[sl])
        x = paste(photos[idx[sl]].to(device), block.to(device), sub)
        probs = model(x).softmax(1).cpu()
        top = probs.argmax(1)
        hit += int((top == target).sum())
        per_photo.index_add_(0, idx[sl], (top == target).float())
        miss_clean += int((top != clean[idx[sl]]).sum())
        prob_sum += float(probs[:, target].sum())
    n = len(idx)
    return {"targeted_success": hit / n, "untargeted_success": miss_clean / n, "mean_target_prob": prob_sum / n,
            "n_photos": len(photos), "n_trials": n, "area": area,
            "per_photo": [round(float(v), 4) for v in per_photo / trials]}
