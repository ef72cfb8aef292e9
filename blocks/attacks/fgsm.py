"""FGSM: x + eps · sign(∇ₓ loss(x, y)).

eps > 0 with the true label pushes the image away from its class (untargeted); eps < 0 with a *target*
label pulls the image toward the target — the seed project's negative-eps trick.
"""
from __future__ import annotations

import torch

from .base import Attack


class FGSM(Attack):
    def __init__(self, model, eps: float = 8 / 255):
        super().__init__(model)
        self.eps = eps
        self.targeted = eps < 0

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return images + self.eps * self.loss_grad(images, labels).sign()


def fgsm(model, images: torch.Tensor, labels, eps: float) -> torch.Tensor:
    """Functional form: one FGSM step of size `eps` (negative = toward `labels`)."""
    return FGSM(model, eps)(images, labels)
