"""PGD: iterated FGSM steps of size `alpha`, projected onto the L∞ ball of radius |eps| around the image.

Like FGSM, a negative eps makes it targeted: every step descends the loss of the target label.
"""
from __future__ import annotations

import torch

from .base import Attack


class PGD(Attack):
    def __init__(self, model, eps: float = 8 / 255, alpha: float = 2 / 255, steps: int = 10):
        super().__init__(model)
        self.eps, self.alpha, self.steps = eps, alpha, steps
        self.targeted = eps < 0

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        radius, step = abs(self.eps), self.alpha if self.eps > 0 else -self.alpha
        x = images.clone()
        for _ in range(self.steps):
            x = x + step * self.loss_grad(x, labels).sign()
            x = (images + (x - images).clamp(-radius, radius)).clamp(0, 1)
        return x
