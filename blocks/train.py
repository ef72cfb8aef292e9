"""Robust block training: the EOT patch attack (`blocks.attacks.eot`) driven over photos as the app sees them.

Each step draws a batch of training photos, moves each like a hand-held camera (zoom, pan, roll, mirror;
`blocks.placement`), jitters its colour, and pastes the block where the app would — centred on the photo's
CAM box, jittered — or, for a share of the batch, anywhere at random rotation, scale and brightness (so the
block still works when the box is off). Adam on the block's pixels with a cosine schedule over the step or
wall-clock budget; hard-photo mining; a held-out check every few steps keeps the best block and stops early
at a goal; checkpoints for long runs.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import photos as photo_cache
from .attacks.eot import EOTPatch
from .paste import TRAIN_RANGES, PasteParams, PasteRanges, sample_params
from .photos import jitter_colour
from .placement import CameraRanges, animal_params, cam_boxes, camera, sample_camera, view_boxes
from .seed import seed_block

# a margin beyond the app's motion: the app plays a still image as a cover-fit crop zoomed ×1.0–1.35
# (app.sample.MOTIONS) and squashes its 4:3 frame into the square input
TRAIN_CAMERA = CameraRanges(zoom=(1.0, 1.45), roll=8.0, flip=True, stretch=1.4)


@dataclass
class TrainResult:
    block: torch.Tensor                 # 3×s×s RGB [0,1]: the best block (by the check, else the last)
    success: float                      # targeted success over the last 10% of steps (training batches)
    seconds: float
    steps: int
    check: float | None = None          # the best held-out check, when there was one
    stopped: str = "steps"              # steps | minutes | goal | interrupted
    history: list[dict] = field(default_factory=list)


@dataclass
class Budget:
    """Steps and/or wall-clock minutes; `progress` (0..1) drives the learning-rate schedule."""
    steps: int | None = None
    minutes: float | None = None
    start: float = field(default_factory=time.time)

    def elapsed(self) -> float:
        return time.time() - self.start

    def progress(self, step: int) -> float:
        parts = [step / self.steps] if self.steps else []
        parts += [self.elapsed() / (60 * self.minutes)] if self.minutes else []
        return min(1.0, max(parts))

    def done(self, step: int) -> str | None:
        if self.steps and step >= self.steps:
            return "steps"
        if self.minutes and self.elapsed() >= 60 * self.minutes:
            return "minutes"
        return None


def block_side(area: float, input_size: int) -> int:
    """Side in classifier pixels of a square block covering at most `area` of the input."""
    return max(2, int(math.floor(math.sqrt(area) * input_size)))


def block_area(side: int, input_size: int) -> float:
    """Share of the classifier input a side×side block really covers (≤ the area asked for)."""
    return (side / input_size) ** 2


def resize_block(block: torch.Tensor, side: int) -> torch.Tensor:
    """A block at another size (bilinear): a start for a block of another area."""
    if block.shape[-1] == side:
        return block
    return torch.nn.functional.interpolate(block[None], size=(side, side), mode="bilinear", align_corners=False,
                                           antialias=True)[0].clamp(0, 1)


def photo_cams(model, photos: torch.Tensor, progress=None, chunk: int = 64, phase: str = "CAM boxes"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N×4 CAM boxes, N top-1 classes) of the photos (`placement.cam_boxes`), a chunk at a time so that
    `progress` (blocks.progress.Progress) shows `CAM boxes 640/2400`; cached (blocks.photos) for CACHE_MIN
    photos or more."""
    def compute(which: list[int]) -> np.ndarray:
        rows = [torch.zeros(0, 5)]
        for i in range(0, len(which), chunk):
            if progress is not None:
                progress.phase(phase, i, len(which))
            b, t = cam_boxes(model, photos[which[i:i + chunk]])
            rows.append(torch.cat([b, t.float()[:, None]], 1))
        return torch.cat(rows).numpy()
    if len(photos) < photo_cache.CACHE_MIN:
        out = compute(list(range(len(photos))))
    else:
        out = photo_cache.cached_rows(f"boxes-{model.name}", photo_cache.photo_keys(photos, model.name), compute)
    out = torch.from_numpy(out)
    return out[:, :4].contiguous(), out[:, 4].long()


def photo_boxes(model, photos: torch.Tensor, progress=None, chunk: int = 64) -> torch.Tensor:
    """The CAM box of each photo (photo_cams, cached)."""
    return photo_cams(model, photos, progress, chunk)[0]


class Batches:
    """Draws training batches: photo indices (uniform or hard-mined), camera views, paste placements."""

    def __init__(self, model, photos: torch.Tensor, area: float, generator: torch.Generator,
                 camera_ranges: CameraRanges = TRAIN_CAMERA, random_share: float = 0.25,
                 ranges: PasteRanges = TRAIN_RANGES, colour: float = 0.2, hard: float = 0.0,
                 scale: tuple[float, float] = (0.9, 1.1), progress=None):
        self.photos, self.area, self.gen, self.scale = photos, area, generator, scale
        self.camera, self.random_share, self.ranges = camera_ranges, random_share, ranges
        self.colour, self.hard = colour, hard
        self.boxes = photo_boxes(model, photos, progress) if random_share < 1 else None
        self.won = torch.full((len(photos),), 0.5)            # running success per photo (hard mining)

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor, PasteParams]:
        g = self.gen
        if self.hard > 0:
            idx = torch.multinomial(1 - self.hard + self.hard * (1 - self.won), n, replacement=True, generator=g)
        else:
            idx = torch.randint(len(self.photos), (n,), generator=g)
        cam = sample_camera(n, self.camera, g)
        views = camera(self.photos[idx], cam)
        if self.colour > 0:
            views = jitter_colour(views, g, self.colour)
        if self.boxes is None:
            return idx, views, sample_params(n, self.area, self.ranges, g)
        params = animal_params(view_boxes(self.boxes[idx], cam), self.area, g, scale=self.scale,
                               random_share=self.random_share, ranges=self.ranges)
        return idx, views, params

    def record(self, idx: torch.Tensor, hits: torch.Tensor) -> None:
        self.won[idx] = 0.7 * self.won[idx] + 0.3 * hits


def train_block(model, photos: torch.Tensor, target: int, area: float, steps: int | None = 1000,
                minutes: float | None = None, batch: int = 12, lr: float | None = None, seed: int = 0,
                init: torch.Tensor | None = None, loss: str | None = None, kappa: float | None = None,
                noise: float | None = None, batches: dict | None = None, check=None, check_every: int = 50,
                goal: float | None = None, checkpoint=None, checkpoint_every: int = 250, log=print,
                log_every: int = 25, incremental: bool = True, ensemble=(), progress=None) -> TrainResult:
    """Train a block of `area` (fraction of the classifier input) toward class `target` on `photos`
    (N×3×S×S) for `steps` and/or `minutes`. `batches`: options of :class:`Batches` (placement, camera,
    colour, hard mining). `check(block) -> success` on held-out photos runs every `check_every` steps: the
    best-checked block is kept and training stops once it reaches `goal`. `checkpoint(step, block, success,
    seconds)` is called every `checkpoint_every` steps. `ensemble`: more classifiers to fool at once (mean of
    the per-model losses; each sees the pasted views resized to its input). Ctrl-C keeps the best block so far.
    `lr`, `loss`, `kappa`, `noise` left None take the recipe's defaults (blocks.make.MakeOptions, their one place).
    `progress` (blocks.progress.Progress) is told of the CAM boxes and of every step."""
    from .make import MakeOptions  # the recipe's defaults (make imports this module)
    loss = MakeOptions.loss if loss is None else loss
    kappa = MakeOptions.kappa if kappa is None else kappa
    noise = MakeOptions.noise if noise is None else noise
    lr = MakeOptions.start_lr(init is not None) if lr is None else lr
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = model.to(memory_format=torch.channels_last)
    side = block_side(area, model.input_size)
    start = seed_block(model, target, side).block if init is None else resize_block(init, side)
    ensemble = [m.to(memory_format=torch.channels_last) for m in ensemble]
    attack = EOTPatch(model, target, start, lr=lr, loss=loss, kappa=kappa, noise=noise, incremental=incremental,
                      ensemble=ensemble)
    draw = Batches(model, photos, block_area(side, model.input_size), gen, **(batches or {}), progress=progress)
    budget = Budget(steps, minutes)
    loop = _Loop(attack, draw, budget, Running(budget, log, log_every), gen, lr, batch, progress, steps)
    return loop.train(check, check_every, goal, checkpoint, checkpoint_every)


@dataclass
class _Loop:
    """train_block's steps: the cosine learning rate, a batch, the held-out check keeping the best block,
    checkpoints, until the budget or the goal (or Ctrl-C)."""
    attack: EOTPatch
    draw: Batches
    budget: Budget
    run: Running
    gen: torch.Generator
    lr: float
    batch: int
    progress: object
    steps: int | None

    def step(self, step: int) -> None:
        attack, budget, run = self.attack, self.budget, self.run
        for group in attack.opt.param_groups:
            group["lr"] = self.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * budget.progress(step - 1))))
        idx, views, params = self.draw.draw(self.batch)
        value, hits = attack.step(views, params, self.gen)
        self.draw.record(idx, hits)
        run.update(step, value, float(hits.mean()))
        if self.progress is not None:
            self.progress.training(step, budget.progress(step), self.steps, run.best, run.recent())

    def train(self, check, check_every: int, goal: float | None, checkpoint, checkpoint_every: int) -> TrainResult:
        attack, budget, run = self.attack, self.budget, self.run
        best = (-1.0, attack.block.detach().cpu().clone())
        step, stopped = 0, None
        try:
            while stopped is None:
                step += 1
                self.step(step)
                if check is not None and (step % check_every == 0):
                    score = check(attack.block.detach().cpu())
                    run.checked(step, score)
                    if score >= best[0]:          # a tie goes to the later, longer-trained block
                        best = (score, attack.block.detach().cpu().clone())
                    if goal is not None and score >= goal:
                        stopped = "goal"
                if checkpoint is not None and step % checkpoint_every == 0:
                    block = best[1] if check else attack.block.detach().cpu().clone()
                    checkpoint(step, block, run.recent(), budget.elapsed())
                stopped = stopped or budget.done(step)
        except KeyboardInterrupt:
            stopped = "interrupted"
        final = attack.block.detach().cpu().clone()
        if check is not None and stopped != "goal" and step % check_every:
            score = check(final)
            run.checked(step, score)
            best = (score, final) if score >= best[0] else best
        block = best[1] if check is not None else final
        return TrainResult(block, run.recent(max(1, step // 10)), budget.elapsed(), step,
                           best[0] if check is not None else None, stopped, run.history)


class Running:
    """Running success, the best held-out check (one line each) and the history (every `every` steps); the live
    progress line is blocks.progress.Progress's."""

    def __init__(self, budget: Budget, log, every: int):
        self.budget, self.log, self.every = budget, log, every
        self.hits: list[float] = []
        self.history: list[dict] = []
        self.best: float | None = None

    def recent(self, n: int | None = None) -> float:
        tail = self.hits[-(n or self.every):]
        return sum(tail) / max(1, len(tail))

    def checked(self, step: int, score: float) -> None:
        self.best = score if self.best is None else max(self.best, score)
        self.history.append({"step": step, "seconds": round(self.budget.elapsed(), 1), "check": round(score, 4)})
        self.log(f"step {step:5d}  held-out check {score:6.1%}  best {self.best:6.1%}")

    def update(self, step: int, loss: float, success: float) -> None:
        self.hits.append(success)
        if step % self.every:
            return
        self.history.append({"step": step, "seconds": round(self.budget.elapsed(), 1), "loss": round(loss, 4),
                             "success": round(self.recent(), 4)})
