"""The small common base of the attacks (as in torchattacks): a model, a call on images and labels."""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 8 / 255     # the attacks' default L∞ size (FGSM's step, PGD's ball)


class Attack:
    """attack(images, labels) -> adversarial images in [0,1], same shape. Subclasses implement `forward`;
    keyword arguments of the call go to it (EOTPatch: `params`, where to paste).

    The sign of an attack's eps says which way it goes: eps > 0 with the true classes as labels pushes the
    images away from them (untargeted); eps < 0 with target classes as labels pulls them toward the targets.
    """

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | int, **kwargs) -> torch.Tensor:
        return self.forward(images.detach(), as_labels(labels, images), **kwargs).clamp(0, 1).detach()

    def forward(self, images: torch.Tensor, labels: torch.Tensor, **kwargs) -> torch.Tensor:
        raise NotImplementedError

    def loss_grad(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Gradient of the cross-entropy loss of `labels` w.r.t. the images (one per image: summed loss)."""
        x = images.clone().requires_grad_(True)
        loss = F.cross_entropy(self.model(x), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
        return grad


def as_labels(labels: torch.Tensor | int, images: torch.Tensor) -> torch.Tensor:
    """One label per image on the images' device: an int means that class for every image."""
    if isinstance(labels, int):
        return torch.full((images.shape[0],), labels, dtype=torch.long, device=images.device)
    return labels.to(images.device)
