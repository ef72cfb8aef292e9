"""Judge a block on a folder of photos, at one or several areas, placed as the app does and/or at random,
beside the seed's one-step block of the same size.

    python -m blocks eval still --photos tests/data/photos --block hog [--placement animal|random|both]
        [--areas 0.03,0.05,0.07,0.10] [--trials 20] [--seed 0] [--json]


animal: a hand-held camera's view (zoom ×1.0–1.15, pan, roll ±5°), the block on the CAM box of the photo's
top class, jittered; random: a still photo, the block anywhere at rotation ±20°, scale ×0.85–1.15,
brightness ×0.8–1.2. Photos whose clean top-1 is the target are left out; chickens are reported apart.
The default area is the block's own.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from models import UserError, load_classifier, load_photos
from models.cli import command_main

from .evaluate import PLACEMENTS, evaluate_block
from .library import load_block
from .placement import cam_boxes
from .seed import seed_block
from .train import block_side


def parse_areas(text: str | None, default: float) -> list[float]:
    if not text:
        return [default]
    try:
        areas = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise UserError(f"--areas must be numbers separated by commas, got {text!r}") from None
    if not areas or not all(0 < a <= 0.5 for a in areas):
        raise UserError(f"--areas must each be in (0, 0.5], got {text!r}")
    return areas


def evaluate_all(model, photos, block, areas, placements, trials, seed, baseline: bool) -> list[dict]:
    rows = []
    info = block.info
    boxes = cam_boxes(model, photos)                 # the photos' CAM boxes, once for every row
    for area in areas:
        sb = seed_block(model, info.target, block_side(area, model.input_size)) if baseline else None
        for placement in placements:
            row = evaluate_block(model, photos, block.image, info.target, area, trials, seed, placement,
                                 boxes=boxes)
            if sb is not None:                   # one seed block per area, judged in each placement
                row["seed_block"] = {"eps": sb.eps, **evaluate_block(model, photos, sb.block, info.target, area,
                                                                     trials, seed, placement, boxes=boxes)}
            rows.append(row)
    return rows


def pct(v) -> str:
    return "    -" if v is None else f"{v:5.1%}"


def print_tables(res: dict, files: list[Path]) -> None:
    print(f"block {res['block']} -> {res['target_name']!r} (trained area {res['block_area']:.4f}) on "
          f"{len(files)} photos × {res['trials']} trials; left out (already the target): "
          f"{res['rows'][0]['n_left_out']}")
    print(f"{'area':>6s} {'placement':>9s} {'targeted':>9s} {'chickens':>9s} {'untargeted':>11s} {'p(target)':>10s} "
          f"{'seed one-step':>14s}")
    for r in res["rows"]:
        seed = pct(r["seed_block"]["targeted_success"]) if "seed_block" in r else "    -"
        print(f"{r['area']:6.3f} {r['placement']:>9s} {pct(r['targeted_success']):>9s} {pct(r['chickens']):>9s} "
              f"{pct(r['untargeted_success']):>11s} {r['mean_target_prob'] or 0:10.3f} {seed:>14s}")
    print("\ntargeted success per photo, hardest first (chickens marked *):")
    head = "  ".join(f"{r['area']:.3f}/{r['placement'][:3]}" for r in res["rows"])
    print(f"{'photo':28s} {head}")
    order = sorted(range(len(files)), key=lambda i: min((r["per_photo"][i] for r in res["rows"]
                                                          if r["per_photo"][i] is not None), default=2))
    for i in order:
        mark = "*" if res["rows"][0]["top1"][i] in (7, 8) else " "
        cells = "  ".join(f"{pct(r['per_photo'][i]):>9s}" for r in res["rows"])
        print(f"{mark}{files[i].name[:27]:27s} {cells}")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--photos", required=True, help="folder of photos, subfolders included")
    ap.add_argument("--block", required=True, help="library name or NAME.png with NAME.json beside it")
    ap.add_argument("--placement", choices=[*PLACEMENTS, "both"], default="both")
    ap.add_argument("--areas", help="comma-separated areas to paste the block at (default: its own)")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="default: the model the block was made for")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-baseline", action="store_true", help="skip the seed one-step block")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)


def run(args) -> int:
    if args.trials < 1:
        raise UserError(f"--trials must be ≥ 1, got {args.trials}")
    block = load_block(args.block)
    areas = parse_areas(args.areas, block.info.area)
    model = load_classifier(args.model or block.info.model, args.device)
    if block.info.model != model.name:
        raise UserError(f"block {block.path} was made for {block.info.model!r}, not {model.name!r}")
    photos, files = load_photos(args.photos, model.input_size, recursive=True)
    placements = PLACEMENTS if args.placement == "both" else (args.placement,)
    rows = evaluate_all(model, photos, block, areas, placements, args.trials, args.seed, not args.no_baseline)
    res = {"block": str(block.path), "target": block.info.target, "target_name": block.info.target_name,
           "model": model.name, "block_area": block.info.area, "trials": args.trials, "seed": args.seed,
           "photos": [str(f) for f in files], "rows": rows}
    if args.json:
        print(json.dumps(res))
    else:
        print_tables(res, files)
    return 0


main = command_main(__doc__, add_arguments, run)
