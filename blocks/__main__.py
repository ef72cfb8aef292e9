"""Make and list adversarial blocks.

    python -m blocks make --target hog --area 0.05 --steps 1500 --photos ../shared/photos --out blocks/library/
    python -m blocks seed --target hog --area 0.05 --out /tmp/blocks     # the seed's one-step block
    python -m blocks list
    python -m blocks print hog --size-cm 8 --out hog.pdf   # a page to print and cut out (or hog.png, 300 dpi)
"""
from __future__ import annotations

import argparse
import sys

import torch

from models import UserError, class_index, load_classifier, slug

from .paste import EVAL_RANGES, TRAIN_RANGES
from .library import LIBRARY, BlockInfo, list_blocks, load_block, save_block
from .printing import PAPERS, print_block
from .seed import seed_block
from .train import block_area, block_side, train_block, training_photos


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m blocks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("make", "seed"):
        p = sub.add_parser(name)
        p.add_argument("--target", required=True, help="ImageNet class name or index, e.g. hog, 'giant panda', 341")
        p.add_argument("--area", type=float, default=0.05, help="fraction of the classifier input (default 0.05)")
        p.add_argument("--model", default="efficientnet_lite0")
        p.add_argument("--out", default=str(LIBRARY), help="output folder (default: the shipped library)")
        p.add_argument("--name", help="file name without .png (default: the target's name)")
        p.add_argument("--device", default="auto")
        if name == "make":
            p.add_argument("--photos", required=True, nargs="+",
                           help="folder(s) of training photos, subfolders included")
            p.add_argument("--holdout", help="folder of photos to leave out of training (matched by file name)")
            p.add_argument("--steps", type=int, default=1500)
            p.add_argument("--batch", type=int, default=16)
            p.add_argument("--lr", type=float, default=0.03)
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
            p.add_argument("--ranges", choices=["train", "eval"], default="train",
                           help="random paste ranges: 'train' (a margin beyond the evaluation's) or 'eval'")
            p.add_argument("--noise", type=float, default=0.02, help="camera noise std added in training")
            p.add_argument("--hard", type=float, default=0.0,
                           help="0..1: draw photos the block still fails on more often (hard-example mining)")
            p.add_argument("--loss", choices=["ce", "margin"], default="ce",
                           help="ce: cross-entropy toward the target; margin: lead of the target over the best "
                                "other class, up to --kappa (spends steps on the pastes still lost)")
            p.add_argument("--augment", choices=["full", "light", "none"], default="full",
                           help="photo variation: full = crops, flips, colour, two-photo splits; light = whole "
                                "photos, flips and colour; none = as they are")
            p.add_argument("--kappa", type=float, default=2.0, help="margin wanted by --loss margin (logits)")
            p.add_argument("--init", help="start from this block (library name or PNG) instead of the seed block")
        else:
            p.add_argument("--lower-limit", type=float, default=-0.5)
    p = sub.add_parser("print", help="the block at its physical size: a PDF page to cut out or a 300-dpi PNG")
    p.add_argument("name", help="library name, or NAME.png with NAME.json beside it")
    p.add_argument("--size-cm", type=float, default=8.0, help="side of the printed block in cm (default 8)")
    p.add_argument("--paper", choices=sorted(PAPERS), default="a4", help="PDF page size (default a4)")
    p.add_argument("--out", required=True, help="FILE.pdf (page with cut marks) or FILE.png (the block alone)")
    sub.add_parser("list")
    args = ap.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    if args.cmd == "list":
        for name in list_blocks():
            b = load_block(name)
            print(f"{name:16s} target {b.info.target_name!r:18s} area {b.info.area:.4f}  side {b.info.side}px  "
                  f"model {b.info.model}  train success {b.info.train_success}")
        return 0
    if args.cmd == "print":
        print(print_block(load_block(args.name), args.out, args.size_cm, args.paper))
        return 0
    if not 0 < args.area <= 0.5:
        raise UserError(f"--area must be in (0, 0.5], got {args.area}")
    target = class_index(args.target)
    model = load_classifier(args.model, args.device)
    side = block_side(args.area, model.input_size)
    area = block_area(side, model.input_size)
    name = args.name or slug(target)
    if args.cmd == "seed":
        sb = seed_block(model, target, side, lower_limit=args.lower_limit)
        info = BlockInfo(target, model.class_names[target], model.name, area, side, model.input_size,
                         method="seed", eps=sb.eps, train_success=float(sb.target_probs.max()))
        print(f"seed block toward {model.class_names[target]!r}: eps {sb.eps:.3f}, "
              f"target prob {float(sb.target_probs.max()):.3f}")
        print(save_block(sb.block, info, args.out, name))
        return 0
    if not 0 <= args.hard <= 1:
        raise UserError(f"--hard must be in [0, 1], got {args.hard}")
    if args.threads:
        torch.set_num_threads(args.threads)
    photos, _, files = training_photos(args.photos, args.holdout, model.input_size)
    print(f"training a {side}×{side} block (area {area:.4f}) toward {model.class_names[target]!r} "
          f"on {len(files)} photos, {args.steps} steps of {args.batch}, seed {args.seed}")
    init, prior_steps, prior_seconds = None, 0, 0.0
    if args.init:
        start = load_block(args.init, model.name)
        if start.info.side != side:
            raise UserError(f"--init block {start.path} is {start.info.side} px, this block is {side} px")
        init = start.image
        prior_steps, prior_seconds = start.info.steps, start.info.seconds or 0.0
    ranges = TRAIN_RANGES if args.ranges == "train" else EVAL_RANGES

    def save(steps: int, block: torch.Tensor, success: float, seconds: float):
        info = BlockInfo(target, model.class_names[target], model.name, area, side, model.input_size,
                         steps=prior_steps + steps, seed=args.seed, train_success=round(success, 4),
                         seconds=round(prior_seconds + seconds, 1), photos=files)
        return save_block(block, info, args.out, name)

    res = train_block(model, photos, target, area, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                      init=init, ranges=ranges, noise=args.noise, checkpoint=save, hard=args.hard, loss=args.loss,
                      kappa=args.kappa, augment=args.augment)
    print(f"done in {res.seconds:.0f}s, training success {res.success:.1%}")
    print(save(args.steps, res.block, res.success, res.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
