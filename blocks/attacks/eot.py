"""EOT patch attack: a block (patch) optimised so that, pasted by `blocks.paste.paste` at random placements,
the classifier says the target — Expectation over Transformation (Athalye et al.), a universal patch
(Brown et al.). Like the other attacks it is targeted by a label; unlike them it optimises one small
image shared by every picture rather than each picture.

One step: paste the block on a batch of views, classify, Adam on the block's pixels. The pasted images
differ from their views only around the block, and the classifier's front half is local (see
`models.incremental`), so the views' front features are computed once without gradient and only a crop
around each block is run through the front with gradient; the back half runs on the spliced features.
Same logits as a full pass (float rounding aside), and the front's backward pass shrinks to the crops.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from models.incremental import crop_plan, splice

from ..paste import EVAL_RANGES, PasteParams, paste, sample_params
from ..placement import pixel_boxes
from .base import Attack, as_labels

__all__ = ["EOTPatch", "at_input_size", "at_own_size", "crop_plan", "in_crop", "margin_loss"]


def margin_loss(logits: torch.Tensor, labels: torch.Tensor, kappa: float) -> torch.Tensor:
    """Mean of max(best other logit − target logit + kappa, 0): zero once the target leads by kappa."""
    target = logits.gather(1, labels[:, None])[:, 0]
    other = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    return (other - target + kappa).clamp(min=0).mean()


LOSSES = {"ce": lambda logits, labels, kappa: F.cross_entropy(logits, labels), "margin": margin_loss}


def in_crop(p: PasteParams, origins: list, side: int, size: int) -> PasteParams:
    """The same placements in crop coordinates (a side×side crop at each (y, x) origin of a size×size image)."""
    o = torch.tensor(origins, dtype=p.center.dtype)[:, [1, 0]]
    return PasteParams((p.center * size - o) / side, p.side * size / side, p.angle, p.brightness)


def at_input_size(model, images: torch.Tensor) -> torch.Tensor:
    """`model`'s logits of images made at another size: resized (bilinear) to its `input_size` first, as
    the app resizes a camera frame with the block already on it."""
    size = getattr(model, "input_size", images.shape[-1])
    if images.shape[-1] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return model(images.contiguous(memory_format=torch.channels_last))


def at_own_size(images: torch.Tensor, block: torch.Tensor) -> PasteParams:
    """Random placements (EVAL_RANGES) of a block at its own pixel size on each of `images`."""
    return sample_params(images.shape[0], (block.shape[-1] / images.shape[-1]) ** 2, EVAL_RANGES)


class EOTPatch(Attack):
    """`attack(images, labels)`, like every attack: the images with the current block pasted at
    `params_fn(images, block)` (default :func:`at_own_size`), or at `attack(images, labels, params=...)`. The
    labels are the common call's; the block is made for `target`. `step(views, params)` improves the block on a
    batch. `noise`: std of camera noise on the block's pixels, per image. `ensemble`: more classifiers trained
    against at once (the loss is the mean of every model's): each sees the same pasted views, resized to its
    own input size, in a full pass."""

    def __init__(self, model, target: int, block: torch.Tensor, lr: float = 0.01, loss: str = "margin",
                 kappa: float = 2.0, noise: float = 0.01, incremental: bool = True, ensemble=(),
                 params_fn=at_own_size):
        super().__init__(model)
        self.params_fn = params_fn
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        self.target, self.loss, self.kappa, self.noise = target, LOSSES[loss], kappa, noise
        self.ensemble = list(ensemble)
        self.incremental = incremental and hasattr(model, "front")
        self.block = block.detach().clone().to(next(model.parameters()).device).requires_grad_(True)
        self.opt = torch.optim.Adam([self.block], lr=lr)

    def forward(self, images: torch.Tensor, labels: torch.Tensor, params: PasteParams | None = None) -> torch.Tensor:
        block = self.block.detach()
        return paste(images, block, self.params_fn(images, block) if params is None else params)

    def noisy(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The block for n images (N×3×s×s), each with its own camera noise."""
        blk = self.block.unsqueeze(0).expand(n, -1, -1, -1)
        if self.noise > 0:
            blk = blk + self.noise * torch.randn(blk.shape, generator=generator).to(blk)
        return blk

    def logits(self, views: torch.Tensor, params: PasteParams, generator: torch.Generator | None = None,
               blk: torch.Tensor | None = None):
        """Logits of the views with the (noisy) block pasted, differentiable w.r.t. the block."""
        size = views.shape[-1]
        blk = self.noisy(views.shape[0], generator) if blk is None else blk
        if not self.incremental:
            return self.model(paste(views, blk, params).contiguous(memory_format=torch.channels_last))
        side, origins, spans = crop_plan(pixel_boxes(params, size), size, self.model.window)
        with torch.no_grad():
            clean = self.model.front(views.contiguous(memory_format=torch.channels_last))
        crops = torch.stack([views[i, :, y:y + side, x:x + side] for i, (y, x) in enumerate(origins)])
        part = self.model.front(paste(crops, blk, in_crop(params, origins, side, size))
                                .contiguous(memory_format=torch.channels_last))
        feats = clean.clone()
        for i, (origin, cells) in enumerate(zip(origins, spans)):
            splice(feats, part, cells, origin, self.model.window[0], i)
        return self.model.back(feats)[0]

    def step(self, views: torch.Tensor, params: PasteParams, generator: torch.Generator | None = None
             ) -> tuple[float, torch.Tensor]:
        """One Adam step on a batch; returns (loss, per-image hit: every model's top-1 was the target)."""
        blk = self.noisy(views.shape[0], generator)
        outs = [self.logits(views, params, blk=blk)]
        if self.ensemble:
            pasted = paste(views, blk, params)
            outs += [at_input_size(m, pasted) for m in self.ensemble]
        labels = as_labels(self.target, views)
        value = sum(self.loss(logits, labels, self.kappa) for logits in outs) / len(outs)
        self.opt.zero_grad(set_to_none=True)
        value.backward()
        self.opt.step()
        with torch.no_grad():
            self.block.clamp_(0, 1)
        hits = torch.stack([logits.argmax(1) == labels for logits in outs]).all(0)
        return float(value.detach()), hits.float().cpu()
