"""Evaluate a block on a folder of photos, beside the seed's one-step block of the same size.

    python scripts/eval_blocks.py --photos tests/data/photos --block blocks/library/hog.png [--trials 20] [--seed 0] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blocks import load_block, seed_block  # noqa: E402
from blocks.evaluate import evaluate_block  # noqa: E402
from models import UserError, load_classifier, load_photos  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", required=True, help="folder of photos (resized to the classifier input)")
    ap.add_argument("--block", required=True, help="library name or NAME.png with NAME.json beside it")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None, help="default: the model the block was made for")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-baseline", action="store_true", help="skip the seed one-step block")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.trials < 1:
            raise UserError(f"--trials must be ≥ 1, got {args.trials}")
        block = load_block(args.block)
        model = load_classifier(args.model or block.info.model, args.device)
        if block.info.model != model.name:
            raise UserError(f"block {block.path} was made for {block.info.model!r}, not {model.name!r}")
        photos, files = load_photos(args.photos, model.input_size)
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    info = block.info
    res = {"block": str(block.path), "target": info.target, "target_name": info.target_name, "model": model.name,
           **evaluate_block(model, photos, block.image, info.target, info.area, args.trials, args.seed)}
    if not args.no_baseline:
        sb = seed_block(model, info.target, info.side)
        res["seed_block"] = {"eps": sb.eps, **evaluate_block(model, photos, sb.block, info.target, info.area,
                                                             args.trials, args.seed)}
    for r in (res, res.get("seed_block", {})):
        if "per_photo" in r:
            r["per_photo"] = {p.name: v for p, v in zip(files, r["per_photo"])}
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"block {res['block']} -> {info.target_name!r} (area {info.area:.4f}) on {res['n_photos']} photos "
          f"× {args.trials} trials")
    rows = [("block", res)] + ([("seed one-step", res["seed_block"])] if "seed_block" in res else [])
    print(f"{'':14s} {'targeted':>9s} {'untargeted':>11s} {'p(target)':>10s}")
    for name, r in rows:
        print(f"{name:14s} {r['targeted_success']:9.1%} {r['untargeted_success']:11.1%} {r['mean_target_prob']:10.3f}")
    print("targeted success per photo, hardest first: " + ", ".join(
        f"{name} {v:.0%}" for name, v in sorted(res["per_photo"].items(), key=lambda kv: kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
