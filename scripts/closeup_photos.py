"""Close-ups of the training animals: each photo cropped to its animal, the kind of photo blocks fail on most.

    python -m scripts.closeup_photos --photos data/photos/train_animals --out data/photos/train_closeups

On photos from sources the blocks never saw, the frames a block loses are close-ups: one big, sharp,
confidently classified pet, bird or big cat filling the frame. The training sources have few of those. This
makes them from the training side's own animal photos: the CAM box of the clean photo's top class (the app's
localiser, on the 224 input), carried back to the full-resolution file, a square around it at each --scales
factor of the box's longer side, cut from the full-size photo (sharp, not an upscaled 224 image) and saved at
--size. A crop is kept when it is at least --min-side source pixels wide and the classifier still calls it
an animal; names are `STEM_cF.jpg`. Only training-side photos may go in: the crops are as held out as their
originals.
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.closeup_photos")

import sys
from pathlib import Path

import cv2
import torch

from blocks.placement import cam_boxes
from models import is_animal, load_classifier
from models.cli import one_line_errors, script_parser
from models.preprocess import image_files, read_image, to_tensor


def square_crop(img, box, factor: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the square of side `factor` × the box's longer side (in the image's pixels) centred
    on the box, moved and shrunk to stay inside the image."""
    h, w = img.shape[:2]
    bx, by, bw, bh = box
    side = int(min(max(bw * w, bh * h) * factor, w, h))
    cx, cy = (bx + bw / 2) * w, (by + bh / 2) * h
    x0 = int(min(max(cx - side / 2, 0), w - side))
    y0 = int(min(max(cy - side / 2, 0), h - side))
    return x0, y0, side


@torch.no_grad()
def make_closeups(model, files: list[Path], out: Path, scales: list[float], size: int, min_side: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    kept = 0
    for f in files:
        img = read_image(f)
        boxes, top = cam_boxes(model, to_tensor(img, model.input_size)[None])
        if not is_animal(int(top[0])):
            continue
        for factor in scales:
            x0, y0, side = square_crop(img, boxes[0].tolist(), factor)
            if side < min_side:
                continue
            crop = cv2.resize(img[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)
            if not is_animal(int(model(to_tensor(crop)[None]).argmax(1))):
                continue
            cv2.imwrite(str(out / f"{f.stem}_c{factor:g}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
            kept += 1
    return kept


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--photos", required=True, nargs="+", help="training-side animal photos (subfolders included)")
    ap.add_argument("--out", required=True, help="folder for the crops (created)")
    ap.add_argument("--scales", default="1.0,1.4", help="crop side ÷ the box's longer side, comma-separated")
    ap.add_argument("--size", type=int, default=320, help="side of the saved crops in pixels")
    ap.add_argument("--min-side", type=int, default=112, help="smallest crop, in source pixels")
    ap.add_argument("--model", default="efficientnet_lite0")
    args = ap.parse_args(argv)
    try:
        scales = [float(s) for s in args.scales.split(",") if s.strip()]
        if not scales or min(scales) <= 0:
            raise ValueError
    except ValueError:
        print(f"error: --scales must be positive numbers separated by commas, got {args.scales!r}", file=sys.stderr)
        return 2
    model = load_classifier(args.model, "cpu").eval()
    files = [f for folder in args.photos for f in image_files(folder, recursive=True)]
    kept = make_closeups(model, files, Path(args.out), scales, args.size, args.min_side)
    print(f"{kept} close-ups from {len(files)} photos in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
