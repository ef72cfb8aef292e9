"""Training scenes from photo cutouts: each RGBA cutout (an animal on a transparent background, e.g. Tux
Paint's stamps) pasted on real background photos, several times each, so the blocks see the same animal on
many backgrounds.

    python -m scripts.composite_cutouts --cutouts STAMPS_DIR --backgrounds BG_DIR [BG_DIR ...] \
        --out ../photos/raw/tuxpaint_composites --per-cutout 3 --extra chicken=hen,rooster,chicken_profile:10

Use training-side backgrounds only (scripts/split_photos.py): a composite belongs to the side of both its
cutout and its background. Deterministic for a given --seed. Each scene: a random crop (4:3, 1:1 or 3:4) of a
background, 448 px on its short side; the cutout flipped at random, scaled so its long side is 35–80% of the
scene's short side, its brightness moved a little toward the background's, the edge of its mask softened,
placed fully inside, more often low in the frame. Writes OUT/<cutout>_<k>.jpg and OUT/composites.csv.
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.composite_cutouts")

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from models import UserError
from models.cli import one_line_errors, script_parser
from models.preprocess import image_files, read_image

SHORT = 448


def read_cutout(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] != 4:
        raise UserError(f"cutout {path} is not an RGBA image")
    ys, xs = np.nonzero(img[:, :, 3] > 16)
    if len(xs) == 0:
        raise UserError(f"cutout {path} is fully transparent")
    return img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def crop_background(bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    aspect = rng.choice([4 / 3, 1.0, 3 / 4])               # width / height
    h, w = bg.shape[:2]
    ch = min(h, w / aspect) * rng.uniform(0.7, 1.0)
    cw = ch * aspect
    y0, x0 = rng.uniform(0, h - ch), rng.uniform(0, w - cw)
    crop = bg[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
    s = SHORT / min(crop.shape[:2])
    return cv2.resize(crop, (round(crop.shape[1] * s), round(crop.shape[0] * s)), interpolation=cv2.INTER_AREA)


def paste(scene: np.ndarray, cut: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        cut = cut[:, ::-1]
    h, w = scene.shape[:2]
    s = rng.uniform(0.35, 0.8) * min(h, w) / max(cut.shape[:2])
    cut = cv2.resize(np.ascontiguousarray(cut), (max(1, round(cut.shape[1] * s)), max(1, round(cut.shape[0] * s))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    ch, cw = cut.shape[:2]
    x0 = int(rng.uniform(0, w - cw + 1))
    y0 = int((h - ch) * (rng.uniform(0.4, 1.0) if rng.random() < 0.7 else rng.random()))
    alpha = cv2.GaussianBlur(cut[:, :, 3].astype(np.float32) / 255, (3, 3), 0)[:, :, None]
    fg = cut[:, :, :3].astype(np.float32)
    region = scene[y0:y0 + ch, x0:x0 + cw].astype(np.float32)
    inside = alpha[:, :, 0] > 0.5
    if inside.any():
        gain = np.clip(region.mean() / max(fg[inside].mean(), 1.0), 0.8, 1.25) ** rng.uniform(0.2, 0.5)
        fg = np.clip(fg * gain, 0, 255)
    scene = scene.copy()
    scene[y0:y0 + ch, x0:x0 + cw] = (alpha * fg + (1 - alpha) * region).round().astype(np.uint8)
    return scene


def parse_extra(specs: list[str]) -> dict[str, int]:
    """'chicken=hen,rooster:10' -> {'hen': 10, 'rooster': 10} (cutouts by file stem, scenes per cutout)."""
    out = {}
    for spec in specs:
        try:
            names, n = spec.split("=", 1)[1].rsplit(":", 1)
            out.update({name: int(n) for name in names.split(",")})
        except (IndexError, ValueError):
            raise UserError(f"--extra wants LABEL=stem1,stem2:N, got {spec!r}") from None
    return out


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--cutouts", required=True, nargs="+", help="folders of RGBA PNG cutouts (subfolders included)")
    ap.add_argument("--exclude", default="", help="comma-separated cutout file stems or folder names to skip")
    ap.add_argument("--backgrounds", required=True, nargs="+", help="background photos: folders or files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-cutout", type=int, default=3)
    ap.add_argument("--extra", action="append", default=[], help="more scenes for some cutouts: LABEL=stem,...:N")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-missing", action="store_true",
                    help="a --cutouts or --backgrounds path that does not exist (a source the fetch skipped) is "
                         "left out with one line instead of an error; no cutouts or no backgrounds: no scenes")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.exclude.split(",")))
    cutout_dirs, background_paths = args.cutouts, list(map(Path, args.backgrounds))
    if args.skip_missing:
        for kind, paths in (("cutouts", cutout_dirs), ("backgrounds", background_paths)):
            missing = [str(d) for d in paths if not Path(d).exists()]
            if missing:
                print(f"skipped {len(missing)} {kind} path(s) not found: {', '.join(missing)}")
        cutout_dirs = [d for d in cutout_dirs if Path(d).is_dir()]
        background_paths = [d for d in background_paths if d.exists()]
        if not cutout_dirs or not background_paths:
            print(f"no composites: no {'cutouts' if not cutout_dirs else 'backgrounds'} found")
            return 0
    cutouts = [p for d in cutout_dirs for p in image_files(d, recursive=True)
               if p.suffix.lower() == ".png" and not skip & {p.stem, *p.relative_to(d).parts[:-1]}]
    backgrounds = [p for d in background_paths
                   for p in (image_files(d, recursive=True) if d.is_dir() else [d])]
    extra = parse_extra(args.extra)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    for cpath in cutouts:
        cut = read_cutout(cpath)
        for k in range(extra.get(cpath.stem, args.per_cutout)):
            bpath = backgrounds[rng.integers(len(backgrounds))]
            scene = paste(crop_background(read_image(bpath), rng), cut, rng)
            name = f"{cpath.stem}_{k}.jpg"
            cv2.imwrite(str(out / name), scene, [cv2.IMWRITE_JPEG_QUALITY, 92])
            rows.append((name, cpath.name, bpath.parent.name + "/" + bpath.name))
    with open(out / "composites.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "cutout", "background"])
        w.writerows(rows)
    print(f"{len(rows)} scenes from {len(cutouts)} cutouts on {len(backgrounds)} backgrounds: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
