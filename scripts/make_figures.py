"""The seed project's two figures, for our classifier, plus the shipped blocks:

- eps_curve.png: target probability vs eps of the one-step negative-eps FGSM block (the seed's sweep);
- block_grid.png: one seed block per animal class beside the robust library blocks, each labelled with the
  probability the classifier gives it;
- area_curve.png (+ area_curve.json, the numbers): targeted success vs block area (0.03-0.10) on a folder of
  photos, placed as the app places it ("animal") and anywhere ("random"), one line per library block and
  the seed's one-step block of each area for reference (blocks.evaluate.evaluate_block).

    python -m scripts.make_figures [--out docs] [--targets hog "giant panda" hen ...]
    python -m scripts.make_figures --only area_curve --photos /work/photos/heldout_animals --trials 10
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.make_figures")

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from blocks import block_side, list_blocks, load_block, seed_block
from blocks.evaluate import PLACEMENTS, evaluate_block
from models import UserError, class_index, load_classifier, load_photos, to_bgr
from models.cli import one_line_errors, script_parser

FIGURES = ("eps_curve", "block_grid", "area_curve", "make_curve")
AREAS = (0.03, 0.05, 0.07, 0.10)

COLORS = [(60, 60, 230), (60, 170, 60), (200, 120, 40), (40, 160, 220), (160, 60, 160), (120, 120, 120)]


def line_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str,
              size=(720, 440), note=lambda x, y: f"(max at eps {x[int(np.argmax(y))]:.3f})") -> np.ndarray:
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
        cv2.putText(img, f"{name} {note(cx, cy)}", (left + 10, top + 18 + 18 * k),
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


def area_curves(model, photos: torch.Tensor, areas=AREAS, trials: int = 10, seed: int = 0, log=print,
                names: list[str] | None = None) -> dict:
    """Targeted success (share of pastes whose top-1 is the target; photos already the target left out) at
    every area and placement, for each library block (pasted at that area: the paste scales it) and for the
    seed's one-step block of that area's side toward each of their targets. Also the chickens' figure."""
    blocks = [load_block(name, model.name) for name in names or list_blocks()]
    rows = []

    def judge(label, kind, target, make):
        for area in areas:
            image = make(area)
            for placement in PLACEMENTS:
                r = evaluate_block(model, photos, image, target, area, trials, seed, placement=placement)
                rows.append({"block": label, "kind": kind, "target": target, "area": area, "placement": placement,
                             "targeted_success": r["targeted_success"], "chickens": r["chickens"],
                             "n_photos": r["n_photos"], "n_left_out": r["n_left_out"]})
                log(f"{label} at {area:g}, {placement}: {pct(r['targeted_success'])}")
    for b in blocks:
        judge(b.name, "library", b.info.target, lambda area, b=b: b.image)
    for target in dict.fromkeys(b.info.target for b in blocks):
        judge(f"seed -> {model.class_names[target]}", "seed", target,
              lambda area, t=target: seed_block(model, t, block_side(area, model.input_size)).block)
    return {"areas": list(areas), "trials": trials, "seed": seed, "n_photos": len(photos), "rows": rows}


def dashed(img: np.ndarray, a, b, color, thickness: int = 1, dash: int = 8) -> None:
    n = max(1, int(np.hypot(b[0] - a[0], b[1] - a[1]) // dash))
    for i in range(0, n, 2):
        p = (int(a[0] + (b[0] - a[0]) * i / n), int(a[1] + (b[1] - a[1]) * i / n))
        q = (int(a[0] + (b[0] - a[0]) * min(i + 1, n) / n), int(a[1] + (b[1] - a[1]) * min(i + 1, n) / n))
        cv2.line(img, p, q, color, thickness, cv2.LINE_AA)


def area_panel(res: dict, placement: str, size=(560, 400)) -> np.ndarray:
    """One placement's curves: success 0-100% vs area; a colour per target, solid = library block,
    dashed = the seed's one-step block; the issue's 95% goal dotted; the legend (each line's figures at
    every area) under the plot."""
    labels = list(dict.fromkeys(r["block"] for r in res["rows"]))
    w, h = size
    img = np.full((h + 18 * len(labels) + 10, w, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 40, 50
    areas = res["areas"]
    x0, x1 = min(areas), max(areas)

    def px(x, y):
        return (int(left + (x - x0) / (x1 - x0 or 1) * (w - left - right)), int(h - bottom - y * (h - top - bottom)))
    for y in (0.0, 0.25, 0.5, 0.75, 1.0):
        cv2.line(img, px(x0, y), px(x1, y), (225, 225, 225), 1)
        cv2.putText(img, f"{y:.0%}", (10, px(x0, y)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for a in areas:
        cv2.line(img, px(a, 0), px(a, 1), (225, 225, 225), 1)
        cv2.putText(img, f"{a:.2f}", (px(a, 0)[0] - 14, h - bottom + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    dashed(img, px(x0, 0.95), px(x1, 0.95), (120, 120, 120), 1, 4)
    cv2.putText(img, "goal 95%", (px(x0, 0.95)[0] + 4, px(x0, 0.95)[1] + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                (120, 120, 120), 1, cv2.LINE_AA)
    cv2.rectangle(img, px(x0, 0), px(x1, 1), (0, 0, 0), 1)
    targets = list(dict.fromkeys(r["target"] for r in res["rows"]))
    for k, label in enumerate(labels):
        rows = [r for r in res["rows"] if r["block"] == label and r["placement"] == placement]
        if not rows:
            continue
        color = COLORS[targets.index(rows[0]["target"]) % len(COLORS)]
        pts = [px(r["area"], r["targeted_success"]) for r in rows if r["targeted_success"] is not None]
        for a, b in zip(pts, pts[1:]):
            if rows[0]["kind"] == "seed":
                dashed(img, a, b, color, 1)
            else:
                cv2.line(img, a, b, color, 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, p, 4 if rows[0]["kind"] == "library" else 2, color, -1, cv2.LINE_AA)
        legend = f"{label}: " + " / ".join(pct(r["targeted_success"], 0) for r in rows)
        cv2.putText(img, legend, (left, h + 18 * k + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.42, color, 1, cv2.LINE_AA)
    cv2.putText(img, f"placement: {placement}", (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "block area (share of the classifier input)", (w // 2 - 150, h - 14), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def area_curve_figure(model, photos_dir, out: Path, areas=AREAS, trials: int = 10, seed: int = 0, names=None,
                      log=print) -> dict:
    """area_curve.png (the two placements side by side, with a caption) and area_curve.json in `out`;
    returns the numbers. `log` gets one line per point as it is measured."""
    photos, files = load_photos(photos_dir, model.input_size, recursive=True)
    res = {"photos": str(photos_dir), **area_curves(model, photos, areas, trials, seed, log, names)}
    panels = np.hstack([area_panel(res, p) for p in PLACEMENTS])
    caption = np.full((30, panels.shape[1], 3), 255, np.uint8)
    cv2.putText(caption, f"targeted success vs block area on {len(files)} photos of {photos_dir} ({trials} pastes "
                f"each, seed {seed}; photos already the target left out); solid: library blocks, dashed: the seed's "
                "one-step block", (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "area_curve.png"), np.vstack([caption, panels]))
    (out / "area_curve.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def print_area_table(res: dict) -> None:
    print(f"targeted success (chickens) on {res['n_photos']} photos of {res['photos']}, {res['trials']} pastes each")
    print(f"{'block':24s} {'placement':9s} " + " ".join(f"{a:>15.2f}" for a in res["areas"]))
    for label in dict.fromkeys(r["block"] for r in res["rows"]):
        for placement in PLACEMENTS:
            rows = [r for r in res["rows"] if r["block"] == label and r["placement"] == placement]
            cells = " ".join(f"{pct(r['targeted_success']):>7s} ({pct(r['chickens']):>5s})" for r in rows)
            print(f"{label:24s} {placement:9s} {cells}")


def pct(v, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}%}"


def make_curve_figure(bench: Path, out: Path, goal: float = 0.9) -> None:
    """make_curve.png: the held-out check's success against minutes since `blocks make` started, per target,
    from `python -m scripts.bench_make --json` output."""
    try:
        targets = json.loads(Path(bench).read_text())["targets"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"cannot read bench_make JSON {bench} ({exc})") from None
    curves = {t["target"]: (np.array([0.0] + [m for m, _ in t["curve"]]), np.array([0.0] + [c for _, c in t["curve"]]))
              for t in targets if t["curve"]}

    def note(x, y):
        hit = np.flatnonzero(y >= goal)
        return f"(>= {goal:.0%} at {x[hit[0]]:.1f} min)" if hit.size else f"(best {y.max():.0%})"
    img = line_plot(curves, "a new block: success on held-out check photos vs minutes (2-core CPU)",
                    "minutes since start (photo loading included)", "targeted success, block placed as the app does",
                    note=note)
    cv2.imwrite(str(out / "make_curve.png"), img)
    print(f"wrote {out / 'make_curve.png'}")


def eps_and_grid(model, targets: list[str], lower_limit: float, out: Path, only: set[str]) -> None:
    curves, tiles = {}, []
    for name in targets:
        t = class_index(name)
        sb = seed_block(model, t, model.input_size, lower_limit=lower_limit, n=60)
        curves[model.class_names[t]] = (sb.eps_values.numpy(), sb.target_probs.numpy())
        tiles.append(tile(sb.block, [f"seed -> {model.class_names[t]}",
                                     f"eps {sb.eps:.3f} p {float(sb.target_probs.max()):.4f}"]))
    for name in list_blocks():
        b = load_block(name)
        with torch.no_grad():
            x = F.interpolate(b.image[None], size=model.input_size, mode="bilinear", align_corners=False)
            p = float(model(x).softmax(1)[0, b.info.target])
        tiles.append(tile(b.image, [f"EOT -> {b.info.target_name}", f"area {b.info.area:.3f} p {p:.2f}"]))
    if "eps_curve" in only:
        curve = line_plot(curves, "one negative-eps FGSM step from dark grey: p(target) vs eps",
                          "eps", "target probability")
        cv2.imwrite(str(out / "eps_curve.png"), curve)
        print(f"wrote {out / 'eps_curve.png'}")
    if "block_grid" in only:
        cols = 4
        rows = [tiles[i:i + cols] + [np.full_like(tiles[0], 255)] * (cols - len(tiles[i:i + cols]))
                for i in range(0, len(tiles), cols)]
        cv2.imwrite(str(out / "block_grid.png"), np.vstack([np.hstack(r) for r in rows]))
        print(f"wrote {out / 'block_grid.png'}")


def parse_areas(text: str) -> tuple[float, ...]:
    try:
        areas = tuple(float(a) for a in text.split(",") if a.strip())
    except ValueError:
        raise UserError(f"--areas must be numbers separated by commas, got {text!r}") from None
    if len(areas) < 2 or not all(0 < a <= 0.5 for a in areas) or list(areas) != sorted(set(areas)):
        raise UserError(f"--areas must be two or more increasing numbers in (0, 0.5], got {text!r}")
    return areas


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--only", nargs="+", choices=FIGURES, default=list(FIGURES), help="the figures to make")
    ap.add_argument("--targets", nargs="+", default=["hog", "giant panda", "hen", "goldfish", "tree frog",
                                                       "king penguin"])
    ap.add_argument("--lower-limit", type=float, default=-0.3)
    ap.add_argument("--photos", default="tests/data/photos", help="area curve: folder of photos (recursive)")
    ap.add_argument("--areas", default=",".join(f"{a:g}" for a in AREAS), help="area curve: comma-separated")
    ap.add_argument("--trials", type=int, default=10, help="area curve: pastes per photo")
    ap.add_argument("--blocks", default="hog,giant_panda", help="area curve: library blocks, comma-separated")
    ap.add_argument("--bench", default="docs/bench_make.json", help="make curve: scripts/bench_make.py --json output")
    ap.add_argument("--seed", type=int, default=0, help="area curve: seed of the pastes")
    args = ap.parse_args(argv)
    out = Path(args.out)
    only = set(args.only)
    areas = parse_areas(args.areas)
    if args.trials < 1:
        raise UserError(f"--trials must be ≥ 1, got {args.trials}")
    out.mkdir(parents=True, exist_ok=True)
    model = load_classifier()
    if only & {"eps_curve", "block_grid"}:
        eps_and_grid(model, args.targets, args.lower_limit, out, only)
    if "make_curve" in only:
        make_curve_figure(Path(args.bench), out)
    if "area_curve" in only:
        res = area_curve_figure(model, args.photos, out, areas, args.trials, args.seed, args.blocks.split(","),
                                log=lambda m: print(m, file=sys.stderr, flush=True))
        print_area_table(res)
        print(f"wrote {out / 'area_curve.png'} and {out / 'area_curve.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
