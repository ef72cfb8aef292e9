"""The small common base of the attacks (as in torchattacks): a model, a call on images and labels."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class Attack:
    """attack(images, labels) -> adversarial images in [0,1], same shape. Subclasses implement `forward`.

    `targeted=False`: labels are the true classes and the attack pushes away from them.
    `targeted=True`: labels are target classes and the attack pulls toward them.
    """

    targeted = False

    def __init__(self, model: torch.nn.Module):
        self.model = model

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | int) -> torch.Tensor:
        if isinstance(labels, int):
            labels = torch.full((images.shape[0],), labels, dtype=torch.long, device=images.device)
        return self.forward(images.detach(), labels.to(images.device)).clamp(0, 1).detach()

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_grad(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Gradient of the cross-entropy loss of `labels` w.r.t. the images (one per image: summed loss)."""
        x = images.clone().requires_grad_(True)
        loss = F.cross_entropy(self.model(x), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
        return grad
