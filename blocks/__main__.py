"""Make, list, print and judge adversarial blocks.

    python -m blocks make --target "king penguin"          # the recipe, on data/photos/train (make photos)
    python -m blocks make --target hog --minutes 30 --init hog   # continue a block
    python -m blocks make --target hog --out blocks/library   # into the shipped library (maintainers only)
    python -m blocks seed --target hog --area 0.05 --out /tmp/blocks     # the seed's one-step block
    python -m blocks list
    python -m blocks print hog --size-cm 8 --out hog.pdf   # a page to print and cut out (or hog.png, 300 dpi)
    python -m blocks eval live --source data/photos/heldout_animals --block hog   # as the app plays it
    python -m blocks eval still --photos tests/data/photos --block hog   # still pastes (eval --help: all four)

Blocks made go into the user's library (outside the source tree): $CHICKEN_SAVIOUR_BLOCKS, else
$XDG_DATA_HOME/chicken-saviour/blocks (~/.local/share/chicken-saviour/blocks); the app reads it and the shipped
blocks/library.
"""
from __future__ import annotations

import argparse
import importlib
import sys

import torch

from models import UserError, class_index, load_classifier, slug
from models.cli import ArgumentParser, one_line_errors

from .library import LIBRARY, BlockInfo, folder_blocks, load_block, save_block, user_library
from .make import MakeOptions, make_block
from .printing import PAPERS, print_block
from .seed import seed_block
from .train import block_area, block_side

COMMANDS = {
    "make": "train a block toward any ImageNet class (the recipe of the shipped blocks; into your library)",
    "seed": "the seed's one-step block (seconds; a start, weaker than a trained one)",
    "list": "the blocks the app can use: the shipped library, then yours, with their held-out figures",
    "print": "the block at its physical size: a PDF page to cut out or a 300-dpi PNG",
    "eval": "judge blocks: on still photos, live as the app plays them, on other models, printed",
}
EVALS = {   # `python -m blocks eval NAME`: (module, what it judges)
    "still": ("blocks.eval_still", "a block pasted on still photos, as the app places it and at random, beside "
                                   "the seed block"),
    "live": ("blocks.eval_live", "the share of frames the app's own pipeline turns into the target, photo by "
                                 "photo or on a clip"),
    "transfer": ("blocks.eval_transfer", "blocks against classifiers they were not made for"),
    "physical": ("blocks.eval_physical", "blocks printed, tilted, lit and seen through a camera, in simulation"),
}


def _default(name: str):
    return MakeOptions.default(name)


class _EvalParser(ArgumentParser):
    """`blocks eval NAME`'s parser: its options and help come from its module (EVALS), imported only when NAME
    is parsed, so that `python -m blocks list` does not import the app (eval live plays the app's pipeline)."""

    def __init__(self, *args, module: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.module, self.loaded = module, False

    def parse_known_args(self, args=None, namespace=None):
        if not self.loaded:
            module = importlib.import_module(self.module)
            module.add_arguments(self)
            self.description, self.formatter_class = module.__doc__, argparse.RawDescriptionHelpFormatter
            self.set_defaults(evaluate=module.run)
            self.loaded = True
        return super().parse_known_args(args, namespace)


def _block_options(p: argparse.ArgumentParser, name: str) -> None:
    """The options `make` and `seed` share: the target, the block's size, model, where it goes."""
    d = _default
    p.add_argument("--target", required=True, help="ImageNet class name or index, e.g. hog, 'giant panda', 341")
    p.add_argument("--area", type=float, default=d("area"),
                   help="fraction of the classifier input (default %(default)s)")
    p.add_argument("--model", default=d("model"), help="classifier (default %(default)s)")
    p.add_argument("--out", default=None if name == "make" else str(user_library()),
                   help=f"output folder (default: your library, {user_library()}; blocks/library only "
                        "when named here)")
    p.add_argument("--name", help="file name without .png (default: the target's name)")
    p.add_argument("--device", default=d("device"))


def _make_data_options(p: argparse.ArgumentParser) -> None:
    """`make`'s photos, check and budget."""
    d = _default
    p.add_argument("--photos", nargs="+", help="folder(s) of training photos, subfolders included "
                   "(default: data/photos/train and, when present, data/photos/train_closeups; "
                   "fetched once by `make photos`)")
    p.add_argument("--holdout", nargs="*", help="folder(s) of photos never to train on: matched by file name "
                   "and by content (a resized or re-encoded copy under another name is left out too); "
                   "default: tests/data/photos and data/photos/heldout, those that exist; "
                   "--holdout with no folder: none")
    p.add_argument("--check", help="held-out photos for the running check and the final figures "
                   "(default: every 8th training photo, then not trained on)")
    p.add_argument("--minutes", type=float, help="wall-clock budget for training (with or instead of --steps)")
    p.add_argument("--steps", type=int, help=f"step budget (default {MakeOptions.STEPS} when --minutes is "
                   "not given)")
    p.add_argument("--goal", type=float, help="stop once the held-out check reaches this share, e.g. 0.95")
    p.add_argument("--check-every", type=int, default=d("check_every"),
                   help=f"steps between held-out checks (default 50; 150 in a run of >= "
                        f"{MakeOptions.LONG_STEPS} steps or >= {MakeOptions.LONG_MINUTES:g} minutes)")
    p.add_argument("--batch", type=int, default=d("batch"), help="photos per step (default %(default)s)")
    p.add_argument("--lr", type=float, default=d("lr"),
                   help=f"Adam step (default {MakeOptions.LR_WARM:g} from --warm, {MakeOptions.LR_INIT:g} "
                        f"continuing a block of the same target, {MakeOptions.LR_SEED:g} from the seed block)")
    p.add_argument("--seed", type=int, default=d("seed"))
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")


def _make_recipe_options(p: argparse.ArgumentParser) -> None:
    """`make`'s placement, loss and starting block."""
    d = _default
    p.add_argument("--placement", choices=["animal", "random"], default=d("placement"),
                   help="animal: where the app pastes (on the CAM box, jittered; --random-share of them "
                        "anywhere); random: anywhere, rotated, scaled and dimmed (default %(default)s)")
    p.add_argument("--random-share", type=float, default=d("random_share"),
                   help="share of random placements (animal; default %(default)s)")
    p.add_argument("--noise", type=float, default=d("noise"),
                   help="camera noise std on the block's pixels (default %(default)s)")
    p.add_argument("--shrink", type=float, default=d("shrink"),
                   help="train the block pasted ×(shrink×0.9 … shrink×1.1) its size (the app's placement): "
                        "below 1 keeps a margin at full size once every training paste is won "
                        "(default %(default)s)")
    p.add_argument("--hard", type=float, default=d("hard"),
                   help="0..1: draw photos the block still fails on more often (hard-example mining; "
                        "default %(default)s)")
    p.add_argument("--loss", choices=["ce", "margin"], default=d("loss"),
                   help="margin: lead of the target over the best other class, up to --kappa (spends "
                        "steps on the pastes still lost); ce: cross-entropy toward the target "
                        "(default %(default)s)")
    p.add_argument("--kappa", type=float, default=d("kappa"),
                   help="margin wanted by --loss margin (logits; default %(default)s)")
    p.add_argument("--init", help="start from this block (library name or PNG; resized to --area) "
                   "instead of --warm")
    p.add_argument("--warm", default=d("warm"), help="a new target starts from this block of another target "
                   "(default %(default)s; none: from the seed's one-step block)")
    p.add_argument("--models", help="A,B,...: fool them all at once (mean loss); the block is A's (make extra)")
    p.add_argument("--no-incremental", action="store_true",
                   help="run the whole network on every pasted image (slower; same result)")


def _command(sub, name: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])


def parser() -> ArgumentParser:
    """`python -m blocks`'s parser: make, seed, list, print, eval (its four evaluations loaded when used)."""
    ap = ArgumentParser(prog="python -m blocks", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND",
                            title="commands (python -m blocks COMMAND --help for its options)")
    make = _command(sub, "make")
    _block_options(make, "make")
    _make_data_options(make)
    _make_recipe_options(make)
    seed = _command(sub, "seed")
    _block_options(seed, "seed")
    seed.add_argument("--lower-limit", type=float, default=-0.5)
    p = _command(sub, "print")
    p.add_argument("name", help="library name, or NAME.png with NAME.json beside it")
    p.add_argument("--size-cm", type=float, default=8.0, help="side of the printed block in cm (default 8)")
    p.add_argument("--paper", choices=sorted(PAPERS), default="a4", help="PDF page size (default a4)")
    p.add_argument("--out", required=True, help="FILE.pdf (page with cut marks) or FILE.png (the block alone)")
    _command(sub, "list")
    evals = _command(sub, "eval").add_subparsers(
        dest="evaluation", required=True, metavar="EVALUATION", parser_class=_EvalParser,
        title="evaluations (python -m blocks eval EVALUATION --help for its options)")
    for name, (module, what) in EVALS.items():
        evals.add_parser(name, help=what, description=what, module=module)
    return ap


@one_line_errors
def main(argv=None) -> int:
    ap = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not [a for a in argv if a != "--debug"]:
        ap.print_help()             # `python -m blocks` alone: the commands
        return 0
    return run(ap.parse_args(argv))


def run(args) -> int:
    if args.cmd == "list":
        return list_blocks()
    if args.cmd == "print":
        print(print_block(load_block(args.name), args.out, args.size_cm, args.paper))
        return 0
    if args.cmd == "eval":
        return args.evaluate(args)
    if not 0 < args.area <= 0.5:
        raise UserError(f"--area must be in (0, 0.5], got {args.area}")
    if args.cmd == "make":
        return make(args)
    return seed(args)


def list_blocks() -> int:
    shipped = folder_blocks(LIBRARY)
    for folder, kind in ((LIBRARY, "shipped"), (user_library(), "yours")):
        for name in folder_blocks(folder):
            b = load_block(str(folder / f"{name}.png"))
            fig = b.info.figures
            judged = (f"check (photos not trained on): as the app pastes it {fig['animal']:.0%}, at random "
                      f"{fig['random']:.0%} ({fig.get('photos', '?')} photos)" if "animal" in fig
                      else "not judged when made")
            shown = kind == "yours" and name in shipped
            shadow = " (the name loads the shipped one: use its path)" if shown else ""
            print(f"{name:18s} {kind:7s} target {b.info.target_name!r:20s} area {b.info.area:.4f} "
                  f"({b.info.side}px)  "
                  f"{b.info.steps:5d} steps {(b.info.seconds or 0) / 60:5.1f} min  {judged}{shadow}")
    print(f"(yours: {user_library()})")
    return 0


def seed(args) -> int:
    target = class_index(args.target)
    model = load_classifier(args.model, args.device)
    side = block_side(args.area, model.input_size)
    area = block_area(side, model.input_size)
    name = args.name or slug(target)
    sb = seed_block(model, target, side, lower_limit=args.lower_limit)
    info = BlockInfo(target, model.class_names[target], model.name, area, side, model.input_size,
                     method="seed", eps=sb.eps, train_success=float(sb.target_probs.max()))
    print(f"seed block toward {model.class_names[target]!r}: eps {sb.eps:.3f}, "
          f"target prob {float(sb.target_probs.max()):.3f}")
    print(save_block(sb.block, info, args.out, name))
    return 0


def make(args) -> int:
    for flag, value, ok in (("--hard", args.hard, 0 <= args.hard <= 1),
                            ("--random-share", args.random_share, 0 <= args.random_share <= 1),
                            ("--shrink", args.shrink, 0.3 <= args.shrink <= 1.5),
                            ("--minutes", args.minutes, args.minutes is None or args.minutes > 0),
                            ("--steps", args.steps, args.steps is None or args.steps > 0),
                            ("--goal", args.goal, args.goal is None or 0 < args.goal <= 1)):
        if not ok:
            raise UserError(f"{flag} out of range: {value}")
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else [args.model]
    if not models or len(set(models)) < len(models):
        raise UserError(f"--models must name each model once, got {args.models!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    opts = MakeOptions.from_args(args, model=models[0], ensemble=models[1:], incremental=not args.no_incremental)
    png, _ = make_block(opts)
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
