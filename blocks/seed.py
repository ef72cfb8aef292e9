"""The seed project's adversarial block: one negative-eps FGSM step from a dark grey image toward a target.

The block (s×s) is classified on its own, upsampled to the classifier's input as the seed did with its
whole-image blocks. eps is swept over [lower_limit, 0) and the eps of maximum target probability is kept:
the curve is a bell, more negative is not better.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .attacks import FGSM

DARK_GREY = 0.25


@dataclass
class SeedBlock:
    block: torch.Tensor        # 3×s×s, RGB [0,1]
    eps: float                 # the eps of the sweep's maximum
    eps_values: torch.Tensor   # the sweep
    target_probs: torch.Tensor # target probability at each eps


class Upsampled(torch.nn.Module):
    """The classifier on small images upsampled (bilinear) to its input size, as the seed classified blocks."""

    def __init__(self, model):
        super().__init__()
        self.model, self.size = model, model.input_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False))


def eps_sweep(model, block: torch.Tensor, target: int, lower_limit: float = -0.5, n: int = 50,
              batch: int = 25) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FGSM toward `target` at every eps in [lower_limit, 0): returns (eps values, target probs, the FGSM
    blocks, one per eps)."""
    if not lower_limit < 0:
        raise ValueError("lower_limit must be negative")
    net = Upsampled(model)
    eps_values = torch.linspace(lower_limit, 0, n + 1)[:-1]          # [lower_limit, 0)
    blocks = FGSM(net).sweep(block[None], target, eps_values)[:, 0]
    with torch.no_grad():
        probs = torch.cat([net(chunk).softmax(1)[:, target].cpu() for chunk in blocks.split(batch)])
    return eps_values, probs, blocks


def seed_block(model, target: int, side: int, lower_limit: float = -0.5, n: int = 50,
               grey: float = DARK_GREY) -> SeedBlock:
    """The seed's block of side `side` pixels, at the swept eps of maximum target probability."""
    device = next(model.parameters()).device
    start = torch.full((3, side, side), grey, device=device)
    eps_values, probs, blocks = eps_sweep(model, start, target, lower_limit, n)
    best = int(probs.argmax())
    return SeedBlock(blocks[best], float(eps_values[best]), eps_values, probs)
