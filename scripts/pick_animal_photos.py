"""Pick the training photos in which the classifier clearly sees an animal, as a folder of links.

    python -m scripts.pick_animal_photos --photos ../training_photos ../shared/photos \
        --holdout tests/data/photos --min-prob 0.5 --out ../animal_photos

A photo is kept when its clean top-1 class is an animal (ImageNet 0–397) with probability ≥ --min-prob: the
kind of photo a block finds hardest (one big, sharp animal that out-votes it), which the shipped blocks' last
rounds trained on. Held-out photos are left out exactly as `python -m blocks make --holdout` leaves them out
(by name and by content). The links are named `FOLDER__sub__file.jpg`; the folder can be passed to
`blocks make --photos`. Links left in --out by an earlier run are removed first.

With --csv, one row per kept photo: link, source (its --photos folder), top-1 class index and name, probability,
kind (chicken = ImageNet 7 cock / 8 hen, cat = 281–293 house and big cats, dog = 151–268, bird, other) and
chicken (1/0). --not-animals leaves out the photos a person found show no animal (the classifier's animal
vegetables and a gamepad). The held-out sources' animals (docs/photo_sources.md):

    python -m scripts.pick_animal_photos --photos ../photos/heldout/* --holdout tests/data/photos \
        --min-prob 0.3 --not-animals scripts/not_animals.txt --out ../photos/heldout_animals \
        --csv ../photos/heldout_animals.csv
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.pick_animal_photos")

import csv
import os
import sys
from pathlib import Path

import torch

from blocks.photos import training_photos
from models import CHICKENS, UserError, class_names, is_animal, load_classifier
from models.cli import one_line_errors, script_parser

KINDS = (("chicken", CHICKENS), ("cat", range(281, 294)), ("dog", range(151, 269)),
         ("bird", (*range(7, 25), *range(80, 101), *range(127, 147))))


def kind(cls: int) -> str:
    return next((k for k, members in KINDS if cls in members), "other")


def read_names(path: str) -> set[str]:
    """The names in a --not-animals file: one per line, '#' starts a comment."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read --not-animals {path}: {exc.strerror}") from None
    return {name for line in lines if (name := line.split("#")[0].strip())}


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--photos", required=True, nargs="+", help="photo folders (subfolders included)")
    ap.add_argument("--holdout", help="folder of photos to leave out (by name and by content)")
    ap.add_argument("--min-prob", type=float, default=0.5, help="lowest top-1 animal probability kept")
    ap.add_argument("--out", required=True, help="folder to put the links in (created)")
    ap.add_argument("--csv", help="also write the kept photos' classes to this CSV file")
    ap.add_argument("--not-animals", help="file of link names (SOURCE__FILE, # comments) a person found show "
                    "no animal: left out (scripts/not_animals.txt)")
    ap.add_argument("--model", default="efficientnet_lite0")
    args = ap.parse_args(argv)
    if not 0 <= args.min_prob <= 1:
        raise UserError(f"--min-prob must be in [0, 1], got {args.min_prob}")
    model = load_classifier(args.model)
    not_animals = read_names(args.not_animals) if args.not_animals else set()
    x, paths, names = training_photos(args.photos, args.holdout, model.input_size)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror}") from None
    clash = next((n for n in names if (f := out / n.replace("/", "__")).exists() and not f.is_symlink()), None)
    if clash:
        raise UserError(f"{out} holds a file that is not a link ({clash.replace('/', '__')}): use a new --out")
    with torch.inference_mode():
        probs = torch.cat([model(part).softmax(1) for part in x.split(32)])
    top, cls = probs.max(1)
    for old in out.iterdir():
        if old.is_symlink():
            old.unlink()
    rows = []
    for path, name, p, c in zip(paths, names, top.tolist(), cls.tolist()):
        link = out / name.replace("/", "__")
        if not (is_animal(c) and p >= args.min_prob) or link.name in not_animals:
            continue
        os.symlink(path.resolve(), link)
        rows.append((link.name, name.split("/")[0], c, class_names()[c], f"{p:.3f}", kind(c), int(c in CHICKENS)))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "source", "top1", "name", "prob", "kind", "chicken"])
            w.writerows(rows)
    counts = {k: sum(r[5] == k for r in rows) for k, _ in KINDS}
    left = sum(n.replace("/", "__") in not_animals for n in names)
    print(f"{len(rows)} of {len(names)} photos show an animal with p >= {args.min_prob}"
          f"{f' ({left} left out by --not-animals)' if left else ''} "
          f"({', '.join(f'{n} {k}' for k, n in counts.items())}): links in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
