"""How fast a new block is made: seconds per training step, and success vs minutes for a few targets.

    python -m scripts.bench_make --targets "ostrich,axolotl,armadillo" --minutes 10 [--init hog] [--json]
    python -m scripts.bench_make --step-only            # seconds per step: incremental vs whole-network pass
    python -m scripts.bench_make --startup              # seconds until the first step: cold, then cached

Per target: `blocks make` with a wall-clock budget and the default recipe (trains on data/photos/train and
its close-ups, held-out check from the training sources), then the final block judged on --heldout (photos
from sources never trained on): live, as the app plays each photo (`python -m blocks eval live`: share of
frames, chickens apart, worst photo), and as still pastes in both placements. Prints seconds per step, steps
done, minutes to reach the goal on the running check (or not), the check curve and the final figures.
The default targets are kept out of the library for this. `--init NAME` starts each from a library block
(of another target: a warm start). `--out` keeps the blocks (default: a temporary folder).
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.bench_make")

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from app.config import BlockSettings
from blocks import load_block
from blocks.attacks.eot import EOTPatch
from blocks.make import DATA, MakeOptions, judge, make_block
from blocks.paste import PasteRanges, sample_params
from blocks.photos import CACHE_ENV
from blocks.placement import HANDHELD, animal_params, cam_boxes, camera, sample_camera, view_boxes
from blocks.progress import Progress
from models import load_classifier, load_photos
from models.cli import one_line_errors, script_parser

ROOT = Path(__file__).resolve().parents[1]


class Started(Exception):
    """Raised by StartClock at the first training step."""


class StartClock(Progress):
    """A progress line that ends the run at its first training step, noting when that was."""

    def __init__(self, t0: float):
        super().__init__(sys.stderr)
        self.t0 = t0

    def training(self, *args, **kwargs):
        self.clear()
        raise Started(round(time.perf_counter() - self.t0, 1))


def startup_seconds(target: str, photos, runs: int = 2) -> list[float]:
    """Seconds from `make_block` to its first training step, `runs` times in a row on a new, empty photo cache
    (the first decodes every photo and computes the CAM boxes; the next read them from the cache)."""
    out = []
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as lib:
        os.environ[CACHE_ENV] = cache
        for _ in range(runs):
            t0 = time.perf_counter()
            try:
                make_block(MakeOptions(target, photos=photos, out=lib), log=lambda m: print(m, file=sys.stderr),
                           progress=StartClock(t0))
            except Started as s:
                out.append(s.args[0])
    return out


def step_seconds(model, photos: torch.Tensor, batch: int, area: float, repeats: int = 6) -> dict:
    """Median seconds of one EOT step (batch, placement as in training) with and without the crop-only front."""
    gen = torch.Generator().manual_seed(0)
    model = model.to(memory_format=torch.channels_last)
    boxes = cam_boxes(model, photos)[0]
    out = {}
    for name, incremental, placement in (("incremental_animal", True, "animal"), ("full_animal", False, "animal"),
                                         ("incremental_random", True, "random"), ("full_random", False, "random")):
        att = EOTPatch(model, 341, torch.rand(3, 70, 70), incremental=incremental)
        times = []
        for _ in range(repeats + 1):
            idx = torch.randint(len(photos), (batch,), generator=gen)
            cam = sample_camera(batch, HANDHELD, gen)
            views = camera(photos[idx], cam)
            params = (animal_params(view_boxes(boxes[idx], cam), area, gen) if placement == "animal"
                      else sample_params(batch, area, PasteRanges(), gen))
            t = time.perf_counter()
            att.step(views, params, gen)
            times.append(time.perf_counter() - t)
        out[name] = round(sorted(times[1:])[repeats // 2], 3)
    return out


def live_figures(png: Path, heldout: str, frames: int | None) -> dict:
    """The block played on every held-out photo as the app plays it (blocks.eval_live)."""
    from blocks import eval_live
    with contextlib.redirect_stdout(sys.stderr):
        res = eval_live.evaluate(argparse.Namespace(source=heldout, block=str(png), frames=frames, scale=None,
                                                    seed=0, backend=None, config=None))
    low = sum(1 for r in res["per_photo"] if r["share"] is not None and r["share"] < 0.8)
    return {"share": res["share"], "chickens": res["chickens"]["share"], "worst": res["worst"],
            "photos_under_80": low, "photos": len(res["per_photo"]), "frames": res["frames"]}


def bench_target(target: str, args, heldout: torch.Tensor, out_dir: str) -> dict:
    opts = MakeOptions(target, area=args.area, out=out_dir, minutes=args.minutes, goal=args.goal,
                       photos=args.photos, holdout=[str(ROOT / "tests" / "data" / "photos"), args.heldout,
                                                    *(args.holdout or [])],
                       batch=args.batch, seed=args.seed, init=args.init, lr=args.lr)
    t0 = time.time()
    with contextlib.redirect_stdout(sys.stderr):          # progress and hold-out notes: stdout is the JSON
        png, figures = make_block(opts, log=lambda m: print(m, file=sys.stderr, flush=True))
    block = load_block(str(png))
    hist = block.info
    model = load_classifier(hist.model, "auto")
    final = judge(model, heldout, block.image, hist.target, hist.area, trials=args.trials)
    live = live_figures(png, args.heldout, args.live_frames) if args.live else None
    return {"target": hist.target_name, "init": args.init, "live": live,
            "minutes": round((time.time() - t0) / 60, 2), "steps": hist.steps,
            "seconds_per_step": round(hist.seconds / max(1, hist.steps), 3), "stopped": figures["stopped"],
            "check": {k: figures[k] for k in ("animal", "random", "photos")},
            "minutes_to_goal": figures.get("minutes_to_goal"), "curve": figures.get("curve", []),
            "heldout": final, "block": str(png)}


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--targets", default="ostrich,axolotl,armadillo",
                    help="comma-separated (default: three targets kept out of the library for this)")
    ap.add_argument("--init", help="start each block from this library block (default: the seed block)")
    ap.add_argument("--lr", type=float, help="Adam step (default: blocks make's)")
    ap.add_argument("--no-live", dest="live", action="store_false", help="skip the live judging")
    ap.add_argument("--live-frames", type=int, help="frames per held-out photo live (default: its whole clip)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--goal", type=float, default=BlockSettings.make_goal,
                    help="stop at this held-out check success (default: the app's block.make_goal)")
    ap.add_argument("--area", type=float, default=0.10)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--photos", nargs="+", help="training photos (default data/photos/train)")
    ap.add_argument("--heldout", default=str(DATA / "heldout_animals"),
                    help="photos from sources never trained on, for the final figures")
    ap.add_argument("--holdout", nargs="+", help="more folders never to train on (e.g. every held-out source)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--out", help="keep the blocks here (default: a temporary folder)")
    ap.add_argument("--step-only", action="store_true", help="only time one training step, both ways")
    ap.add_argument("--startup", action="store_true", help="only time the start (until the first step), twice: "
                    "on an empty photo cache, then on the cache the first run wrote")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_classifier("efficientnet_lite0", "auto")
    if args.startup:
        target = args.targets.split(",")[0].strip()
        cold, cached = startup_seconds(target, args.photos)
        res = {"target": target, "photos": args.photos or "default", "seconds_to_first_step":
               {"empty_cache": cold, "cached": cached}, "threads": torch.get_num_threads()}
    elif args.step_only:
        photos, _ = load_photos(ROOT / "tests" / "data" / "photos", model.input_size)
        res = {"batch": args.batch, "threads": torch.get_num_threads(),
               "seconds_per_step": step_seconds(model, photos, args.batch, args.area)}
    else:
        heldout, _ = load_photos(args.heldout, model.input_size, recursive=True)
        with tempfile.TemporaryDirectory() as tmp:
            res = {"targets": [bench_target(t.strip(), args, heldout, args.out or tmp)
                               for t in args.targets.split(",") if t.strip()]}
    print(json.dumps(res, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
