"""PGD: iterated FGSM steps of size `alpha`, projected onto the L∞ ball of radius |eps| around the image.

Like FGSM, a negative eps makes it targeted: every step descends the loss of the target label.
"""
from __future__ import annotations

import torch

from .base import EPS, Attack
from .fgsm import FGSM


class PGD(Attack):
    def __init__(self, model, eps: float = EPS, alpha: float = 2 / 255, steps: int = 10):
        super().__init__(model)
        self.eps, self.alpha, self.steps = eps, alpha, steps

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        radius = abs(self.eps)
        step = FGSM(self.model, self.alpha if self.eps > 0 else -self.alpha)
        x = images
        for _ in range(self.steps):
            x = images + (step(x, labels) - images).clamp(-radius, radius)
        return x
