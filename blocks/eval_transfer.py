"""Transfer: how blocks do against classifiers they were not made for, beside the one they were.

    python -m blocks eval transfer --photos DIR [DIR ...] --blocks hog giant_panda [runs/x/hog.png ...]
        [--models efficientnet_lite0,efficientnet_lite1,efficientnet_lite2] [--placement animal|random|both]
        [--trials 5] [--seed 0] [--threads 1] [--json]


Each model judges the photos at its own input size (Lite0 224, Lite1 240, Lite2 260 px) and each block is
pasted at its own area, a fraction of that input, so it covers the same share of the picture for every
model; placements and pastes as `python -m blocks eval still` (`blocks.evaluate.evaluate_block`), the CAM box
from the judging model. Photos that model already calls the target are left out. Lite1 and Lite2 need
`make extra` (requirements-extra.txt).
"""
from __future__ import annotations

import argparse
import json

import torch

from models import UserError, load_classifier, load_photos
from models.cli import command_main

from .evaluate import PLACEMENTS, evaluate_block
from .library import load_block

MODELS = "efficientnet_lite0,efficientnet_lite1,efficientnet_lite2"


def photos_at(folders: list[str], size: int) -> torch.Tensor:
    return torch.cat([load_photos(f, size, recursive=True)[0] for f in folders])


def transfer_rows(models: list[str], blocks: list, folders: list[str], placements, trials: int, seed: int,
                  device: str = "cpu") -> list[dict]:
    """One row per (block, model, placement): targeted success, chickens, photos judged."""
    rows = []
    for name, model in [(m, load_classifier(m, device)) for m in models]:   # every package checked first
        photos = photos_at(folders, model.input_size)
        for block in blocks:
            for placement in placements:
                r = evaluate_block(model, photos, block.image, block.info.target, block.info.area, trials, seed,
                                   placement)
                rows.append({"block": str(block.path), "made_for": block.info.model, "model": name,
                             "placement": placement, "area": block.info.area, "targeted": r["targeted_success"],
                             "chickens": r["chickens"], "n_photos": r["n_photos"], "n_left_out": r["n_left_out"]})
    return rows


def pct(v) -> str:
    return "    -" if v is None else f"{v:5.1%}"


def print_table(rows: list[dict], models: list[str]) -> None:
    """Block × placement down, models across: targeted success (chickens in brackets)."""
    print(f"{'block':36s} {'area':>6s} {'placement':>9s} " + " ".join(f"{m.replace('efficientnet_', ''):>15s}"
                                                                   for m in models))
    keys = dict.fromkeys((r["block"], r["placement"]) for r in rows)
    for block, placement in keys:
        cells = {r["model"]: r for r in rows if r["block"] == block and r["placement"] == placement}
        first = next(iter(cells.values()))
        text = " ".join(f"{pct(cells[m]['targeted'])} ({pct(cells[m]['chickens'])})" if m in cells else " " * 15
                        for m in models)
        print(f"{block[-36:]:36s} {first['area']:6.3f} {placement:>9s} {text}")
    counts = {r["model"]: r["n_photos"] for r in rows}
    print("photos judged (not already the target): " + ", ".join(f"{m} {n}" for m, n in counts.items()))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--photos", nargs="+", required=True, help="folder(s) of photos, subfolders included")
    ap.add_argument("--blocks", nargs="+", required=True, help="library names or NAME.png with NAME.json beside")
    ap.add_argument("--models", default=MODELS, help=f"comma-separated (default {MODELS})")
    ap.add_argument("--placement", choices=[*PLACEMENTS, "both"], default="both")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    placements = PLACEMENTS if args.placement == "both" else (args.placement,)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.trials < 1:
        raise UserError(f"--trials must be ≥ 1, got {args.trials}")
    blocks = [load_block(b) for b in args.blocks]
    rows = transfer_rows(models, blocks, args.photos, placements, args.trials, args.seed, args.device)
    if args.json:
        print(json.dumps({"photos": args.photos, "trials": args.trials, "seed": args.seed, "rows": rows}))
    else:
        print(f"{len(args.photos)} folder(s), {args.trials} trials per photo, seed {args.seed}; "
              "targeted success (chickens)")
        print_table(rows, models)
    return 0


main = command_main(__doc__, add_arguments, run)
