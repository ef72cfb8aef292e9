"""Time the inference backends on CPU: torch eager vs ONNX Runtime, ms per image at batch 1 and 2.

    python -m scripts.bench_backends [--photos tests/data/photos] [--runs 30] [--warmup 5] [--threads N] [--json]

Each figure is the median over --runs calls (after --warmup calls) of backend.infer, divided by the batch
size. Numbers only, no verdicts: timings depend on whatever else the machine is doing.
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.bench_backends")

import json
import os
import statistics
import sys
import time
from pathlib import Path

from models import UserError, load_classifier, load_photos
from models.backend import make_backend
from models.cli import one_line_errors, script_parser


def time_backend(backend, images, runs: int, warmup: int) -> float:
    """Median ms per image of backend.infer(images)."""
    for _ in range(warmup):
        backend.infer(images)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        backend.infer(images)
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times) / len(images)


@one_line_errors
def main(argv=None) -> int:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--photos", default=str(Path(__file__).resolve().parents[1] / "tests" / "data" / "photos"))
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--weights", default=None, help="weights file (default: the installed ones)")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: all cores)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        raise UserError("--runs must be ≥ 1 and --warmup ≥ 0")
    model = load_classifier(args.model, "cpu", weights=args.weights)
    photos, _ = load_photos(args.photos, model.input_size)
    backends = {"torch": make_backend(model, "torch"), "onnx": make_backend(model, "onnx", args.threads)}
    images = photos.numpy()
    if len(images) < 2:
        images = images.repeat(2, axis=0)
    res = {"model": model.name, "runs": args.runs, "warmup": args.warmup, "cpu_count": os.cpu_count(),
           "loadavg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
           "onnx": backends["onnx"].describe(), "ms_per_image": {}}
    for name, backend in backends.items():
        for batch in (1, 2):
            res["ms_per_image"][f"{name}_b{batch}"] = round(time_backend(backend, images[:batch], args.runs,
                                                                         args.warmup), 2)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"{res['model']} on {res['cpu_count']} CPU cores (1-min load average {res['loadavg_1min']}); "
          f"{res['onnx']}; median of {args.runs} runs after {args.warmup} warm-up")
    print(f"{'backend':8s} {'batch 1 ms/img':>15s} {'batch 2 ms/img':>15s}")
    for name in backends:
        print(f"{name:8s} {res['ms_per_image'][f'{name}_b1']:15.2f} {res['ms_per_image'][f'{name}_b2']:15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
