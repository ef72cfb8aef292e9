"""The seed project's two figures, for our classifier, plus the shipped blocks:

- eps_curve.png: target probability vs eps of the one-step negative-eps FGSM block (the seed's sweep);
- block_grid.png: one seed block per animal class beside the robust library blocks, each labelled with the
  probability the classifier gives it.

    python scripts/make_figures.py [--out docs] [--targets hog "giant panda" hen ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blocks import list_blocks, load_block, seed_block  # noqa: E402
from models import class_index, load_classifier, to_bgr  # noqa: E402

COLORS = [(60, 60, 230), (60, 170, 60), (200, 120, 40), (40, 160, 220), (160, 60, 160), (120, 120, 120)]


def line_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str,
              size=(720, 440)) -> np.ndarray:
    """A small line chart drawn with OpenCV (no plotting library needed)."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 40, 60
    xs = np.concatenate([c[0] for c in curves.values()])
    ys = np.concatenate([c[1] for c in curves.values()])
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = 0.0, float(ys.max()) * 1.1 or 1.0

    def px(x, y):
        return (int(left + (x - x0) / (x1 - x0 or 1) * (w - left - right)),
                int(h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom)))
    cv2.rectangle(img, px(x0, y0), px(x1, y1), (0, 0, 0), 1)
    for i in range(6):
        x, y = x0 + (x1 - x0) * i / 5, y0 + (y1 - y0) * i / 5
        cv2.putText(img, f"{x:.2f}", (px(x, y0)[0] - 18, h - bottom + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        cv2.putText(img, f"{y:.2g}", (8, px(x0, y)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for k, (name, (cx, cy)) in enumerate(curves.items()):
        color = COLORS[k % len(COLORS)]
        pts = np.array([px(a, b) for a, b in zip(cx, cy)], np.int32)
        cv2.polylines(img, [pts], False, color, 2, cv2.LINE_AA)
        best = int(np.argmax(cy))
        cv2.circle(img, px(cx[best], cy[best]), 5, color, -1, cv2.LINE_AA)
        cv2.putText(img, f"{name} (max at eps {cx[best]:.3f})", (left + 10, top + 18 + 18 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    cv2.putText(img, title, (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, (w // 2 - 40, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (left, h - bottom + 38), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    return img


def tile(block: torch.Tensor, caption: list[str], size: int = 160) -> np.ndarray:
    img = cv2.resize(to_bgr(block), (size, size), interpolation=cv2.INTER_NEAREST)
    out = np.full((size + 44, size + 10, 3), 255, np.uint8)
    out[5:5 + size, 5:5 + size] = img
    for i, line in enumerate(caption):
        cv2.putText(out, line, (6, size + 22 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--targets", nargs="+", default=["hog", "giant panda", "hen", "goldfish", "tree frog",
                                                       "king penguin"])
    ap.add_argument("--lower-limit", type=float, default=-0.3)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_classifier()
    curves, tiles = {}, []
    for name in args.targets:
        t = class_index(name)
        sb = seed_block(model, t, model.input_size, lower_limit=args.lower_limit, n=60)
        curves[model.class_names[t]] = (sb.eps_values.numpy(), sb.target_probs.numpy())
        tiles.append(tile(sb.block, [f"seed -> {model.class_names[t]}", f"eps {sb.eps:.3f} p {float(sb.target_probs.max()):.4f}"]))
    for name in list_blocks():
        b = load_block(name)
        with torch.no_grad():
            x = F.interpolate(b.image[None], size=model.input_size, mode="bilinear", align_corners=False)
            p = float(model(x).softmax(1)[0, b.info.target])
        tiles.append(tile(b.image, [f"EOT -> {b.info.target_name}", f"area {b.info.area:.3f} p {p:.2f}"]))
    curve = line_plot(curves, "one negative-eps FGSM step from dark grey: p(target) vs eps",
                      "eps", "target probability")
    cv2.imwrite(str(out / "eps_curve.png"), curve)
    cols = 4
    rows = [tiles[i:i + cols] + [np.full_like(tiles[0], 255)] * (cols - len(tiles[i:i + cols]))
            for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(out / "block_grid.png"), np.vstack([np.hstack(r) for r in rows]))
    print(f"wrote {out / 'eps_curve.png'} and {out / 'block_grid.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
