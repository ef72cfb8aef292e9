"""FGSM: x + eps · sign(∇ₓ loss(x, y)).

eps > 0 with the true label pushes the image away from its class (untargeted); eps < 0 with a *target*
label pulls the image toward the target — the seed project's negative-eps trick. :meth:`FGSM.sweep` takes the
step at many eps from one gradient (the seed's eps sweep).
"""
from __future__ import annotations

import torch

from .base import EPS, Attack, as_labels


class FGSM(Attack):
    def __init__(self, model, eps: float = EPS):
        super().__init__(model)
        self.eps = eps

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return images + self.eps * self.loss_grad(images, labels).sign()

    def sweep(self, images: torch.Tensor, labels: torch.Tensor | int, eps_values: torch.Tensor) -> torch.Tensor:
        """The FGSM images at every eps of `eps_values` (K) from one gradient: K×N×C×H×W in [0,1]."""
        images = images.detach()
        sign = self.loss_grad(images, as_labels(labels, images)).sign()
        eps = eps_values.to(images).view(-1, *[1] * images.dim())
        return (images[None] + eps * sign[None]).clamp(0, 1)

