"""The seed project's adversarial block: one negative-eps FGSM step from a dark grey image toward a target.

The block (s×s) is classified on its own, upsampled to the classifier's input as the seed did with its
whole-image blocks. eps is swept over [lower_limit, 0) and the eps of maximum target probability is kept:
the curve is a bell, more negative is not better.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

DARK_GREY = 0.25


@dataclass
class SeedBlock:
    block: torch.Tensor        # 3×s×s, RGB [0,1]
    eps: float                 # the eps of the sweep's maximum
    eps_values: torch.Tensor   # the sweep
    target_probs: torch.Tensor # target probability at each eps


def _as_input(block: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(block, size=(size, size), mode="bilinear", align_corners=False)


def eps_sweep(model, block: torch.Tensor, target: int, lower_limit: float = -0.5, n: int = 50,
              batch: int = 25) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FGSM toward `target` at every eps in [lower_limit, 0): returns (eps values, target probs, sign of grad)."""
    if not lower_limit < 0:
        raise ValueError("lower_limit must be negative")
    size = model.input_size
    x = block.detach().unsqueeze(0).clone().requires_grad_(True)
    loss = F.cross_entropy(model(_as_input(x, size)), torch.tensor([target], device=x.device))
    (grad,) = torch.autograd.grad(loss, x)
    sign = grad.sign()[0]
    eps_values = torch.linspace(lower_limit, 0, n + 1)[:-1]          # [lower_limit, 0)
    probs = []
    with torch.no_grad():
        for chunk in eps_values.split(batch):
            cand = (block[None] + chunk.view(-1, 1, 1, 1).to(block) * sign[None]).clamp(0, 1)
            probs.append(model(_as_input(cand, size)).softmax(1)[:, target].cpu())
    return eps_values, torch.cat(probs), sign


def seed_block(model, target: int, side: int, lower_limit: float = -0.5, n: int = 50,
               grey: float = DARK_GREY) -> SeedBlock:
    """The seed's block of side `side` pixels, at the swept eps of maximum target probability."""
    device = next(model.parameters()).device
    start = torch.full((3, side, side), grey, device=device)
    eps_values, probs, sign = eps_sweep(model, start, target, lower_limit, n)
    best = int(probs.argmax())
    eps = float(eps_values[best])
    return SeedBlock((start + eps * sign).clamp(0, 1), eps, eps_values, probs)
