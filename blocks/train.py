"""Robust block training by Expectation over Transformation (EOT).

Optimise a square block so that, pasted on photos at random position, rotation, scale and brightness
(the very :func:`blocks.paste.paste` the live app uses), the classifier says the target. Starts from the
seed's one-step block; Adam with a cosine schedule; photos are also randomly cropped and flipped, and
camera noise is added, so the block learns to work on backgrounds it has never seen.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from models import UserError, load_photos

from .paste import TRAIN_RANGES, PasteRanges, paste, sample_params
from .seed import seed_block


@dataclass
class TrainResult:
    block: torch.Tensor                 # 3×s×s RGB [0,1]
    success: float                      # targeted success over the last 10% of steps
    seconds: float
    history: list[dict] = field(default_factory=list)


def training_photos(folders: list[str], holdout: str | None, size: int
                    ) -> tuple[torch.Tensor, list[Path], list[str]]:
    """Training photos from one or more folders (subfolders included), minus the held-out photos: those
    with a held-out file's name, and any near-copy of one under another name (same 16×16 thumbnail).
    Returns (N×3×S×S photos, their files, their names as recorded in a block's JSON: "FOLDER/relative/path")."""
    photos, files = [], []
    for folder in folders:
        x, f = load_photos(folder, size, recursive=True)
        photos.append(x)
        files += [(Path(folder), p) for p in f]
    photos = torch.cat(photos)
    if holdout:
        held, held_files = load_photos(holdout, size)
        names = {p.stem for p in held_files}
        thumb = lambda x: F.adaptive_avg_pool2d(x.mean(1, keepdim=True), 16).flatten(1)   # noqa: E731
        diff = torch.cdist(thumb(photos), thumb(held), p=1) / 256                      # mean |Δ| per cell
        copies = (diff < 0.03).any(1)
        keep = [i for i, (_, f) in enumerate(files) if f.stem not in names and not copies[i]]
        if not keep:
            raise UserError(f"every photo in {', '.join(folders)} is held out by {holdout}")
        if len(keep) < len(files):
            print(f"held out {len(files) - len(keep)} photos matching {holdout} by name or content")
        photos, files = photos[keep], [files[i] for i in keep]
    return photos, [f for _, f in files], [f"{root.name}/{f.relative_to(root)}" for root, f in files]


def block_side(area: float, input_size: int) -> int:
    """Side in classifier pixels of a square block covering at most `area` of the input."""
    return max(2, int(math.floor(math.sqrt(area) * input_size)))


def block_area(side: int, input_size: int) -> float:
    """Share of the classifier input a side×side block really covers (≤ the area asked for)."""
    return (side / input_size) ** 2


def augment_photos(photos: torch.Tensor, generator: torch.Generator, mix: float = 0.5,
                   min_crop: float = 0.6) -> torch.Tensor:
    """Many backgrounds from few photos: a random crop (`min_crop`–100% of the side) resized back, a horizontal
    flip, colour jitter (brightness, contrast, saturation ×0.7–1.3), and with probability `mix` a split at a
    random line with another photo of the batch (a new scene made of two)."""
    n, _, h, w = photos.shape

    def u(lo, hi, size=(n,)):
        return lo + (hi - lo) * torch.rand(size, generator=generator)
    s = u(min_crop, 1.0)
    ox, oy = (1 - s) * torch.rand(n, generator=generator), (1 - s) * torch.rand(n, generator=generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = s * flip
    theta[:, 1, 1] = s
    theta[:, 0, 2] = 2 * ox + s - 1
    theta[:, 1, 2] = 2 * oy + s - 1
    grid = F.affine_grid(theta.to(photos), [n, 3, h, w], align_corners=False)
    x = F.grid_sample(photos, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * u(0.7, 1.3).view(n, 1, 1, 1).to(x)                     # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * u(0.7, 1.3).view(n, 1, 1, 1).to(x)                     # contrast
    x = (x * u(0.7, 1.3).view(n, 1, 1, 1).to(x)).clamp(0, 1)                         # brightness
    if mix > 0 and n > 1:
        other = x[torch.randperm(n, generator=generator)]
        ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
        vertical = (torch.rand(n, generator=generator) < 0.5).view(n, 1, 1)
        cut = u(0.3, 0.7).view(n, 1, 1)
        side = torch.where(vertical, xs[None] < cut, ys[None] < cut)
        use = (torch.rand(n, generator=generator) < mix).view(n, 1, 1) & side
        x = torch.where(use[:, None].to(x.device), other, x)
    return x


# How much to vary the training photos. "full" makes many scenes from few photos, but its half-and-half splits
# and close crops are easier than a whole photo with one big animal (the shipped hog block wins 93% of its
# training batches and 81% of its own photos under the evaluation's protocol); "light" keeps whole photos
# (flip, colour jitter, crops of 90–100%); "none" uses the photos as they are.
AUGMENTS = {"full": {"mix": 0.5, "min_crop": 0.6}, "light": {"mix": 0.0, "min_crop": 0.9}, "none": None}


def margin_loss(logits: torch.Tensor, labels: torch.Tensor, kappa: float) -> torch.Tensor:
    """Mean of max(best other logit − target logit + kappa, 0): zero once the target leads by kappa."""
    target = logits.gather(1, labels[:, None])[:, 0]
    other = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    return (other - target + kappa).clamp(min=0).mean()


LOSSES = {"ce": lambda logits, labels, kappa: F.cross_entropy(logits, labels), "margin": margin_loss}


def train_block(model, photos: torch.Tensor, target: int, area: float, steps: int = 1000, batch: int = 16,
                lr: float = 0.03, seed: int = 0, ranges: PasteRanges = TRAIN_RANGES, noise: float = 0.02,
                init: torch.Tensor | None = None, log=print, log_every: int = 25,
                checkpoint=None, checkpoint_every: int = 250, hard: float = 0.0, loss: str = "ce",
                kappa: float = 2.0, augment: str = "full") -> TrainResult:
    """Train a block of `area` (fraction of the classifier input) toward class `target` on `photos` (N×3×S×S).

    `checkpoint(step, block, success, seconds)` is called every `checkpoint_every` steps (a long run
    stopped early keeps its latest block).

    `hard` > 0 mines hard photos: each photo keeps a running success rate, and photos are drawn with weight
    `1 - hard + hard * (1 - success)`, so the steps go where the block still fails (a clear animal that
    out-votes it, say) instead of the many photos it already wins.

    `loss` is "ce" (cross-entropy toward the target) or "margin": the Carlini–Wagner margin
    `max(max_other_logit - target_logit + kappa, 0)`, which stops pushing once the target leads by `kappa`
    and so spends the step on the pastes the block still loses."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {sorted(AUGMENTS)}, got {augment!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model = model.to(memory_format=torch.channels_last)
    side = block_side(area, model.input_size)
    true_area = block_area(side, model.input_size)
    if init is None:
        init = seed_block(model, target, side).block
    block = init.detach().clone().to(device).requires_grad_(True)
    opt = torch.optim.Adam([block], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * i / steps)))
    labels = torch.full((batch,), target, dtype=torch.long, device=device)
    hits, history, t0 = [], [], time.time()
    won = torch.full((len(photos),), 0.5)                   # running success per photo (hard mining)
    for step in range(1, steps + 1):
        if hard > 0:
            idx = torch.multinomial(1 - hard + hard * (1 - won), batch, replacement=True, generator=gen)
        else:
            idx = torch.randint(len(photos), (batch,), generator=gen)
        bg = photos[idx] if AUGMENTS[augment] is None else augment_photos(photos[idx], gen, **AUGMENTS[augment])
        bg = bg.to(device)
        params = sample_params(batch, true_area, ranges, gen)
        x = paste(bg, block, params)
        x = (x + noise * torch.randn(x.shape, generator=gen).to(device)).clamp(0, 1)
        logits = model(x.contiguous(memory_format=torch.channels_last))
        value = LOSSES[loss](logits, labels, kappa)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            block.clamp_(0, 1)
        ok = (logits.argmax(1) == target).float().cpu()
        hits.append(float(ok.mean()))
        won[idx] = 0.7 * won[idx] + 0.3 * ok
        if step % log_every == 0 or step == steps:
            recent = sum(hits[-log_every:]) / len(hits[-log_every:])
            history.append({"step": step, "loss": round(value.item(), 4), "success": round(recent, 4)})
            log(f"step {step:5d}/{steps}  loss {value.item():.3f}  success(last {log_every}) {recent:6.1%}  "
                f"lr {sched.get_last_lr()[0]:.4f}  {time.time() - t0:6.0f}s")
        if checkpoint is not None and step % checkpoint_every == 0 and step < steps:
            tail = hits[-max(1, checkpoint_every // 2):]
            checkpoint(step, block.detach().cpu().clone(), sum(tail) / len(tail), time.time() - t0)
    tail = hits[-max(1, steps // 10):]
    return TrainResult(block.detach().cpu(), sum(tail) / len(tail), time.time() - t0, history)
