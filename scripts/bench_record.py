"""Size, encode time and fidelity of recordings of the app, printed as numbers (never asserted).

    python -m scripts.bench_record [--seconds 10] [--compare] [--json]

Runs the app headless on the built-in sample for `--seconds` at 30 fps, keeps the side-by-side canvases,
then writes them with app.record.Recorder in each format and setting below, timing the writes and the close
(GIF/WebP encode at close). `err` is the mean absolute difference (0..255) between the decoded frames and
the canvases scaled to the same size. `--compare` adds OpenCV's own GIF palettes for reference: its default
(fixed 3-3-2 palette with Floyd-Steinberg dithering) and its octree palette (256 colours, no dithering).
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.bench_record")

import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from app.__main__ import main as app_main
from app.record import Recorder
from models.cli import one_line_errors, script_parser

FPS = 30
# (extension, anim_width (0: the canvas), anim_fps, webp_quality); videos ignore the last three
SETTINGS = [(".gif", 800, 10, 75), (".gif", 800, 15, 75), (".gif", 640, 15, 75), (".gif", 0, 10, 75),
            (".webp", 800, 10, 75), (".webp", 800, 15, 75), (".webp", 800, 30, 75), (".webp", 800, 15, 50),
            (".webp", 800, 15, 90), (".webp", 0, 15, 75), (".mp4", 0, 0, 0), (".mp4", -1, 0, 0), (".avi", 0, 0, 0)]
# an .mp4 row with width -1: the fallback encoder (OpenCV's, MPEG-4 part 2) in place of H.264
OPENCV_GIFS = {"opencv default (3-3-2, dithered)": [],
               "opencv octree 256, no dither": [cv2.IMWRITE_GIF_QUALITY, 8, cv2.IMWRITE_GIF_DITHER, 3,
                                                cv2.IMWRITE_GIF_TRANSPARENCY, 0]}


def capture(seconds: float, folder: Path) -> list[np.ndarray]:
    """The app's canvases for `seconds` of the sample (the recorder's input, caught on its way in)."""
    frames: list[np.ndarray] = []
    original = Recorder.write
    Recorder.write = lambda self, canvas: frames.append((canvas() if callable(canvas) else canvas).copy())
    try:
        app_main(["--source", "sample", "--headless", "--quiet", "--max-frames", str(round(seconds * FPS)),
                  "--record", str(folder / "capture.avi")])
    finally:
        Recorder.write = original
    return frames


def measure(path: Path, frames: list[np.ndarray], seconds: float, fmt: str, quality: int | None) -> dict:
    """The file's size, frame size and rate, and its error against the canvases it was made from."""
    if path.suffix in (".gif", ".webp"):
        got = [f[..., :3] for f in cv2.imreadanimation(str(path))[1].frames]
    else:
        cap, got = cv2.VideoCapture(str(path)), []
        while (frame := cap.read())[0]:
            got.append(frame[1])
    step = max(1, round(len(frames) / len(got)))
    size = got[0].shape[1::-1]
    err = np.mean([np.abs(g.astype(np.int16) - cv2.resize(f, size, interpolation=cv2.INTER_AREA)).mean()
                   for g, f in zip(got[::10], frames[::step * 10])])
    return {"format": fmt, "width": size[0], "height": size[1], "fps": len(got) * FPS / len(frames),
            "quality": quality, "mb": path.stat().st_size / 1e6, "encode_s": seconds, "err": float(err)}


def encode(frames, path: Path, width: int, anim_fps: float, quality: int) -> dict:
    t = time.perf_counter()
    rec = Recorder(path, FPS, anim_width=max(width, 0), anim_fps=anim_fps or 10, webp_quality=quality or 75)
    if width < 0:
        rec.h264, rec._fourcc = False, "mp4v"
    for f in frames:
        rec.write(f)
    rec.close()
    fmt = path.suffix[1:] + (f" {rec.codec}" if path.suffix == ".mp4" else "")
    return measure(path, frames, time.perf_counter() - t, fmt, quality if path.suffix == ".webp" else None)


def opencv_gif(frames, path: Path, name: str, params: list[int]) -> dict:
    kept = [cv2.resize(f, (800, round(f.shape[0] * 800 / f.shape[1])), interpolation=cv2.INTER_AREA)
            for f in frames[::3]]
    t = time.perf_counter()
    anim = cv2.Animation()
    anim.frames, anim.durations, anim.loop_count = kept, [100] * len(kept), 0
    cv2.imwriteanimation(str(path), anim, params)
    return measure(path, frames, time.perf_counter() - t, f"gif: {name}", None)


def run(seconds: float, compare: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = capture(seconds, folder)
        print(f"{len(frames)} canvases of {frames[0].shape[1]}x{frames[0].shape[0]} ({seconds:g} s at {FPS} fps)",
              file=sys.stderr)
        for i, (ext, width, anim_fps, quality) in enumerate(SETTINGS):
            rows.append(encode(frames, folder / f"r{i}{ext}", width, anim_fps, quality))
            print(_line(rows[-1]), file=sys.stderr)
        for i, (name, params) in enumerate(OPENCV_GIFS.items() if compare else ()):
            rows.append(opencv_gif(frames, folder / f"o{i}.gif", name, params))
            print(_line(rows[-1]), file=sys.stderr)
    return rows


def _line(r: dict) -> str:
    q = f"q{r['quality']}" if r["quality"] else ""
    return (f"{r['format']:36s} {r['width']:5d} px {r['fps']:5.1f} fps {q:4s} {r['mb']:7.2f} MB "
            f"{r['encode_s']:6.1f} s  err {r['err']:.2f}")


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--compare", action="store_true", help="add OpenCV's own GIF palettes (slow)")
    ap.add_argument("--json", action="store_true", help="print one JSON list instead of the table")
    args = ap.parse_args(argv)
    rows = run(args.seconds, args.compare)
    print(json.dumps(rows) if args.json else "\n".join(_line(r) for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
