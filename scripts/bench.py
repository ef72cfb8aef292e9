"""Speed and memory of the real pipeline, headless, printed as numbers (never asserted).

    python scripts/bench.py [--frames 300] [--size 640x480] [--source sample] [--backend auto] [--json]
    python scripts/bench.py --soak 20000          # resident memory at start and end of a long run
    python scripts/bench.py --frames 1500 --with-make "king penguin" --photos /work/photos/train

Reports fps, latency p50/p95, per-stage medians (capture, localize, paste, infer, render, record), the bare
inference time of one 224×224 image on the same backend in the same run, ratio = median frame time ÷
(2 × bare), first_frame_s (from the start of this script), and the time of one block-training step.
`pair_inference_ms` is what the two labels of one frame cost alone (`infer_pair`: the pasted image is
recomputed only around the block, so it is less than 2 × bare) and `ratio_to_pair` = frame ÷ that: the
share of the frame that is not inference. `--no-incremental` classifies the pasted image in full.

`--with-make TARGET` then starts the app's background block job (app.maker.MakeJob: `python -m blocks make`
at nice 19, one torch thread, into a throw-away folder), waits until its training steps have begun, runs the
same frames again beside it and once more after stopping it: `fps_with_make` against `fps` and
`fps_after_make`, the job's progress over the run, the CPU seconds it got, and the load average.

The bare inference is timed on the app's own backend object, with nothing else running: 40 runs just
before the pipeline starts and 40 just after it ends; `bare_inference_ms` is their median and
`bare_inference_ms_before_after` shows both halves. When those disagree by more than 25%, something else
was loading the machine (shared VMs have bursts of several seconds) and a warning says the figures are
unreliable: run again.
"""
from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; peak RSS elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, runs: int) -> list[float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def bare_inference_ms(backend, runs: int = 40) -> list[float]:
    """`runs` timed inferences of one 224×224 image on `backend` (after 3 untimed), in ms."""
    x = np.random.default_rng(0).random((1, 3, backend.input_size, backend.input_size), dtype=np.float32)
    return _timed(lambda: backend.infer(x), runs)


def pair_inference_ms(backend, runs: int = 40) -> list[float]:
    """`runs` timed `infer_pair` calls on an image and its twin with a 5%-area patch, in ms: what the app
    pays per frame for its two labels (less than two bare inferences when the backend is incremental)."""
    s = backend.input_size
    rng = np.random.default_rng(0)
    x = rng.random((3, s, s), dtype=np.float32)
    side = int(0.05 ** 0.5 * s)
    y = x.copy()
    y[:, s // 3:s // 3 + side, s // 4:s // 4 + side] = rng.random((3, side, side), dtype=np.float32)
    return _timed(lambda: backend.infer_pair(x, y), runs)


def train_step_s(steps: int = 3, batch: int = 12) -> float:
    import torch
    from blocks import train_block
    from models import load_classifier
    model = load_classifier()
    photos = torch.rand(batch, 3, model.input_size, model.input_size)
    train_block(model, photos, 341, 0.05, steps=1, batch=batch, log=lambda m: None)      # warm-up
    t = time.perf_counter()
    train_block(model, photos, 341, 0.05, steps=steps, batch=batch, log=lambda m: None)
    return (time.perf_counter() - t) / steps


def child_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def beside_make(args, settings, backend, source) -> dict:
    """The same run beside the app's background block job (started, awaited until it trains), then after it."""
    from app.maker import MakeJob
    from app.run import run
    quiet = lambda m: None  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="bench-make-") as lib:
        job = MakeJob(args.with_make, Path(lib), args.make_minutes, settings.block.make_goal, args.photos).start()
        t = time.perf_counter()
        try:
            while job.running and not job.training:
                time.sleep(0.5)
            if not job.running:
                return {"make_error": job.error or f"finished before the run: {job.path}"}
            setup_s, cpu0, pct0, load0 = time.perf_counter() - t, child_cpu_s(job.proc.pid), job.percent, os.getloadavg()
            with_make = run(settings, log=quiet, backend=backend, source=source)
            cpu1, pct1, load1 = child_cpu_s(job.proc.pid), job.percent, os.getloadavg()
            still = job.running
        finally:
            job.stop()
    after = run(settings, log=quiet, backend=backend, source=source)
    return {"fps_with_make": round(with_make.fps, 2), "fps_after_make": round(after.fps, 2),
            "frame_ms_p50_with_make": round(float(np.median(with_make.stage_ms["frame"])), 2),
            "make_target": args.with_make, "make_setup_s": round(setup_s, 1),
            "make_percent_during_run": [pct0, pct1], "make_running_throughout": still,
            "make_cpu_s_during_run": round(cpu1 - cpu0, 1), "run_s_with_make": round(with_make.seconds, 1),
            "loadavg_1min_before_after": [round(load0[0], 2), round(load1[0], 2)]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--source", default="sample")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--record", default="mp4", choices=["mp4", "gif", "none"], help="record stage format")
    ap.add_argument("--soak", type=int, default=0, help="run N frames and report memory growth")
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="make the source's first N frames before timing and loop over them from memory, so "
                         "making frames (warping the sample, decoding a file) costs nothing during the run")
    ap.add_argument("--no-train", action="store_true", help="skip the block-training step timing")
    ap.add_argument("--no-incremental", action="store_true",
                    help="classify the pasted image in full (not only the region the paste changed)")
    ap.add_argument("--with-make", metavar="TARGET", help="also run beside a real background block job for TARGET")
    ap.add_argument("--photos", help="--with-make: the job's training photos (default: blocks make's, data/photos/train)")
    ap.add_argument("--make-minutes", type=float, default=10.0, help="--with-make: the job's budget (default 10)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from app.config import Settings, override
    from app.run import run
    from models import UserError, load_classifier
    from models.backend import make_backend

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size must look like 640x480, got {args.size!r}", file=sys.stderr)
        return 2
    frames = args.soak or args.frames
    tmpdir = tempfile.TemporaryDirectory(prefix="bench-")       # the recording is thrown away at exit
    tmp = tmpdir.name
    record = None if args.record == "none" or args.soak else str(Path(tmp) / f"bench.{args.record}")
    try:
        settings = override(Settings(), {"source": args.source, "size": [w, h], "max_frames": frames,
                                         "loop": True, "backend": args.backend, "device": args.device,
                                         "ui.headless": True, "record.path": record})
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mem: dict[int, float] = {}
    warm = min(500, frames // 10)
    try:
        backend = make_backend(load_classifier(device=args.device), args.backend)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    backend.incremental = not args.no_incremental
    source = None
    if args.preload:
        from app.sources import ClipSource, open_source
        src = open_source(args.source, size=(w, h))
        held = [f for f in (src.read() for _ in range(args.preload)) if f is not None]
        src.close()
        source = ClipSource(f"{args.source} ({len(held)} frames in memory)", lambda: iter(held), len(held),
                            loop=True)
    bare_before = bare_inference_ms(backend)

    def on_frame(i, res):
        if i in (1, warm) or i == frames or (args.soak and i % 1000 == 0):
            mem[i] = rss_mb()
            if args.soak and not args.json and i % 1000 == 0:
                print(f"  frame {i:6d}  rss {mem[i]:.1f} MB", file=sys.stderr)
    try:
        summary = run(settings, log=lambda m: print(m, file=sys.stderr), on_frame=on_frame, backend=backend,
                      source=source)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bare_after = bare_inference_ms(backend)
    backend.halves(wait=True)     # loaded in the background during the run (as in the app); wait, to be sure
    pair_ms = float(np.median(pair_inference_ms(backend, 80)))
    bare_ms = float(np.median(bare_before + bare_after))
    halves = float(np.median(bare_before)), float(np.median(bare_after))
    st = {k: np.asarray(v) for k, v in summary.stage_ms.items()}
    frame_ms, latency_ms = st["frame"], st["latency"]
    res = {
        "frames": summary.frames, "size": f"{w}x{h}",
        "source": args.source + (f" (first {args.preload} frames, preloaded)" if args.preload else ""),
        "fps": round(summary.fps, 2),
        "frame_ms_p50": round(float(np.median(frame_ms)), 2),
        "latency_ms_p50": round(float(np.median(latency_ms)), 2),
        "latency_ms_p95": round(float(np.percentile(latency_ms, 95)), 2),
        "stages_ms_median": {k: round(float(np.median(st[k])), 2)
                             for k in ("capture", "paste", "infer", "localize", "render", "record") if k in st},
        "bare_inference_ms": round(bare_ms, 2),
        "bare_inference_ms_before_after": [round(v, 2) for v in halves],
        "ratio": round(float(np.median(frame_ms)) / (2 * bare_ms), 3),
        "pair_inference_ms": round(pair_ms, 2),
        "ratio_to_pair": round(float(np.median(frame_ms)) / pair_ms, 3),
        "incremental": bool(backend.incremental and backend.halves() is not None),
        "first_frame_s": round(summary.first_frame_at - T_START, 3),     # script start, imports included
        "run_first_frame_s": round(summary.first_frame_s, 3),           # from run(): blocks, source, 1st frame
        "backend": backend.name, "device": backend.device,
        "fooled": round(summary.fooled / summary.pasted, 3) if summary.pasted else None,
    }
    if args.soak:
        start = mem.get(warm) or mem.get(1)
        end = mem.get(frames) or rss_mb()
        res.update({"soak_frames": frames, "rss_mb_start": round(start, 1), "rss_mb_end": round(end, 1),
                    "rss_growth_pct": round(100 * (end - start) / start, 2), "rss_mb_first_frame": round(mem[1], 1),
                    "rss_measured_from_frame": warm})
    if args.with_make and not args.soak:
        res.update(beside_make(args, settings, backend, source))
    if not args.no_train and not args.soak:
        res["train_step_s"] = round(train_step_s(), 3)
    if max(halves) > 1.25 * min(halves):
        print(f"warning: bare inference took {halves[0]:.1f} ms before the run and {halves[1]:.1f} ms after it: "
              "the machine was busy with something else, these figures are unreliable; run again", file=sys.stderr)
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:24s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
