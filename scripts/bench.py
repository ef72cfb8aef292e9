"""Every benchmark, printed as numbers (never asserted): the app's pipeline by default, or one named first.

    python -m scripts.bench [--frames 300] [--size 640x480] [--source sample] [--backend auto] [--json]
    python -m scripts.bench backends ...    # torch vs ONNX Runtime, ms per image (scripts/bench_backends.py)
    python -m scripts.bench record ...      # size, encode time and fidelity of each recording format
    python -m scripts.bench make ...        # a new block: seconds per step, live share after N minutes
    python -m scripts.bench NAME --help     # that benchmark's options
    python -m scripts.bench --soak 20000          # resident memory at start and end of a long run
    python -m scripts.bench --soak 100000 --kiosk --json    # a booth day (below)
    python -m scripts.bench --frames 1500 --with-make "king penguin" --photos /work/photos/train

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

`--soak N --kiosk` plays a booth day: the kiosk machine (app.kiosk: a new block every 5 s, the block on 3 s and
off 1 s, attract mode after 20 s with no animal in view) on a camera held in memory that shows the sample's
animal for 40 s and then an empty scene for 30 s, its clock advancing 1/30 s a frame however fast the frames
come, and the recording rolling over every `--roll` frames (GIF and MP4 in turn). Besides the soak's memory it
reports threads and open file descriptors at the warm frame (1,000) and at the end, and what the booth did.

The bare inference is timed on the app's own backend object, with nothing else running: 40 runs just
before the pipeline starts and 40 just after it ends (as many as the frames, in a run of fewer);
`bare_inference_ms` is their median and `bare_inference_ms_before_after` shows both halves. When those
disagree by more than 25%, something else was loading the machine (shared VMs have bursts of several seconds)
and a warning says the figures are unreliable: run again.
"""
from __future__ import annotations

if not __package__:   # run as a file: app, blocks and models are importable only from the root, with -m
    raise SystemExit("error: run it from the repository root as: python -m scripts.bench")

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

from models.cli import one_line_errors, script_parser  # noqa: E402


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


def reference_runs(frames: int) -> int:
    """Timed reference inferences on each side of the run: 40, or as many as the run has frames (at least 8),
    so that a short smoke run is not mostly reference timing."""
    return max(8, min(40, frames))


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
            setup_s = time.perf_counter() - t
            cpu0, pct0, load0 = child_cpu_s(job.proc.pid), job.percent, os.getloadavg()
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


SOAK_WARM = 500          # --soak: memory growth is measured from this frame on (or a tenth of the run)
BOOTH_WARM = 1000        # --soak --kiosk: the same, once the booth has been through its rhythms a few times
# --soak --kiosk: the booth's clocks (KioskSettings) and the camera's day, in booth seconds
BOOTH = {"cycle_s": 5.0, "block_on_s": 3.0, "block_off_s": 1.0, "attract_after_s": 20.0}
ANIMAL_S, EMPTY_S = 40.0, 30.0      # an animal in view this long, then nothing this long, and again
BOOTH_CLIP = 150                    # frames of the sample held in memory (the camera's animal, the attract clip)


def parse_args(argv=None) -> argparse.Namespace:
    ap = script_parser(__spec__, __doc__)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--source", default="sample")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--record", default="mp4", choices=["mp4", "gif", "none"], help="record stage format")
    ap.add_argument("--soak", type=int, default=0, help="run N frames and report memory growth")
    ap.add_argument("--kiosk", action="store_true",
                    help="--soak: a booth day, the kiosk machine on frames in memory and a fast fake clock")
    ap.add_argument("--roll", type=int, default=500, metavar="K",
                    help="--soak --kiosk: a new recording every K frames, GIF and MP4 in turn (default 500)")
    ap.add_argument("--clock-step", type=float, default=1 / 30, metavar="S",
                    help="--soak --kiosk: booth seconds per frame (default 1/30: a 30 FPS camera)")
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="make the source's first N frames before timing and loop over them from memory, so "
                         "making frames (warping the sample, decoding a file) costs nothing during the run")
    ap.add_argument("--no-train", action="store_true", help="skip the block-training step timing")
    ap.add_argument("--no-incremental", action="store_true",
                    help="classify the pasted image in full (not only the region the paste changed)")
    ap.add_argument("--with-make", metavar="TARGET", help="also run beside a real background block job for TARGET")
    ap.add_argument("--photos",
                    help="--with-make: the job's training photos (default: blocks make's, data/photos/train)")
    ap.add_argument("--make-minutes", type=float, default=10.0, help="--with-make: the job's budget (default 10)")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def parse_size(text: str) -> tuple[int, int]:
    from models import UserError
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like 640x480, got {text!r}") from None
    return w, h


def make_settings(args, size: tuple[int, int], tmp: str):
    """The app's settings for this benchmark: headless, looping, max_frames = the run's length."""
    from app.config import Settings, override
    frames = args.soak or args.frames
    if args.kiosk:
        record = str(Path(tmp) / "booth-0.gif")
        extra = {"ui.kiosk.enabled": True, **{f"ui.kiosk.{k}": v for k, v in BOOTH.items()}}
    else:
        record = None if args.record == "none" or args.soak else str(Path(tmp) / f"bench.{args.record}")
        extra = {}
    return override(Settings(), {"source": args.source, "size": list(size), "max_frames": frames, "loop": True,
                                 "backend": args.backend, "device": args.device, "ui.headless": True,
                                 "record.path": record, **extra})


def held_frames(name: str, size: tuple[int, int], n: int) -> list:
    """The first n frames of source `name`, made now and kept in memory."""
    from app.sources import open_source
    src = open_source(name, size=size)
    held = [f for f in (src.read() for _ in range(n)) if f is not None]
    src.close()
    return held


def preloaded(name: str, held: list):
    from app.sources import ClipSource
    return ClipSource(f"{name} ({len(held)} frames in memory)", lambda: iter(held), len(held), loop=True)


def process_counts() -> tuple[float, int, int]:
    """(resident MB, OS threads, open file descriptors) of this process."""
    try:
        threads = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                           if line.startswith("Threads:")))
        fds = len(os.listdir("/proc/self/fd"))
    except (OSError, StopIteration):
        import threading
        threads, fds = threading.active_count(), -1
    return rss_mb(), threads, fds


class Probe:
    """Samples the process at frame 1, at the warm frame, every 1000 frames of a soak and at the last frame."""

    def __init__(self, frames: int, warm: int, soak: bool, verbose: bool):
        self.frames, self.warm, self.soak, self.verbose = frames, warm, soak, verbose
        self.at: dict[int, tuple[float, int, int]] = {}

    def __call__(self, i: int, res=None) -> None:
        if i in (1, self.warm) or i == self.frames or (self.soak and i % 1000 == 0):
            self.at[i] = process_counts()
            if self.soak and self.verbose and i % 1000 == 0:
                rss, threads, fds = self.at[i]
                print(f"  frame {i:6d}  rss {rss:.1f} MB  threads {threads}  fds {fds}", file=sys.stderr, flush=True)

    def figures(self) -> dict:
        start = self.at.get(self.warm) or self.at.get(1)
        end = self.at.get(self.frames) or process_counts()
        return {"soak_frames": self.frames, "rss_mb_start": round(start[0], 1), "rss_mb_end": round(end[0], 1),
                "rss_growth_pct": round(100 * (end[0] - start[0]) / start[0], 2),
                "rss_mb_first_frame": round(self.at[1][0], 1), "rss_measured_from_frame": self.warm}

    def counts(self) -> dict:
        start = self.at.get(self.warm) or self.at.get(1)
        end = self.at.get(self.frames) or process_counts()
        return {"threads_start": start[1], "threads_end": end[1], "fds_start": start[2], "fds_end": end[2]}


class SimClock:
    """The booth's clock: `step` seconds pass with each frame shown, however fast the frames come."""

    def __init__(self, step: float):
        self.step, self.t = step, 0.0

    def __call__(self) -> float:
        return self.t

    def tick(self) -> None:
        self.t += self.step


class BoothCamera:
    """A live camera on frames in memory: the animal clip for ANIMAL_S booth seconds, then an empty scene for
    EMPTY_S, and again; what it shows depends on the booth's clock, as a real camera's does. The empty scene
    is vertical stripes (a radiator to the classifier, animals together ~9%: a flat grey wall is ~40% animal,
    and the held box keeps such a frame an animal)."""

    live, ended, lost, fps = True, False, False, 30.0

    def __init__(self, animal: list, clock: SimClock):
        self.name, self.animal, self.clock = "booth camera (in memory)", animal, clock
        stripes = np.arange(animal[0].shape[1]) // 30 % 2 * 200 + 30
        self.empty = np.broadcast_to(stripes[None, :, None], animal[0].shape).astype(np.uint8)

    def in_view(self) -> bool:
        return self.clock() % (ANIMAL_S + EMPTY_S) < ANIMAL_S

    def read(self, timeout: float = 1.0):
        if not self.in_view():
            return self.empty
        return self.animal[round(self.clock() / self.clock.step) % len(self.animal)]

    def close(self) -> None:
        self.ended = True


class Booth:
    """What a booth day does besides the kiosk machine: the clock, the recording rolling over every `roll`
    frames (GIF and MP4 in turn, each finished file deleted), and counts of what the machine did."""

    def __init__(self, loop, clock: SimClock, probe: Probe, roll: int, tmp: str):
        self.loop, self.clock, self.probe, self.roll, self.tmp = loop, clock, probe, roll, tmp
        self.recordings = self.attract_switches = self.blocks_cycled = self.block_toggles = 0
        self.state = self._state()

    def _state(self):
        p = self.loop.pipeline
        c = p.controls.snapshot() if hasattr(p, "controls") else p      # the controls' moment (app.controls)
        return self.loop.kiosk.machine.attracting, c.block.name if c.block is not None else None, c.enabled

    def __call__(self, i: int, res=None) -> None:
        self.clock.tick()
        state = self._state()
        self.attract_switches += state[0] != self.state[0]
        self.blocks_cycled += state[1] != self.state[1]
        self.block_toggles += state[2] != self.state[2]
        self.state = state
        if self.roll and i % self.roll == 0:
            self._roll_over(i // self.roll)
        self.probe(i)

    def _roll_over(self, n: int) -> None:
        rec = self.loop.recorder
        done = rec.stop()
        if done is not None:
            self.recordings += 1
            Path(done).unlink()
        rec.start(str(Path(self.tmp) / f"booth-{n}.{('gif', 'mp4')[n % 2]}"), self.loop.settings.fps)

    def figures(self) -> dict:
        return {"booth_seconds": round(self.clock(), 1), "recordings": self.recordings,
                "attract_switches": self.attract_switches, "blocks_cycled": self.blocks_cycled,
                "block_toggles": self.block_toggles, "roll_frames": self.roll}


def play(settings, backend, source, probe: Probe):
    """The app's run loop (app.run.run) over `source` (None: the settings'), `probe` sampling each frame."""
    from app.run import run
    return run(settings, log=lambda m: print(m, file=sys.stderr), on_frame=probe, backend=backend, source=source)


def play_booth(args, settings, backend, probe: Probe, tmp: str):
    """A booth day: the run loop with the kiosk machine (app.kiosk) on the BoothCamera, its attract clip in
    memory too, its clock the SimClock; the recording rolls over (Booth). Returns (summary, Booth)."""
    from app.kiosk import KioskMode
    from app.run import Loop, _small_jobs_on_one_thread, make_pipeline
    from app.sinks import Summary
    clip = held_frames("sample", settings.size, args.preload or BOOTH_CLIP)
    clock = SimClock(args.clock_step)
    pipeline = make_pipeline(settings, backend)
    kiosk = KioskMode(settings, BoothCamera(clip, clock), clock)
    kiosk.feed.attract.close()                 # the attract source in memory too, not paced at its rate
    kiosk.feed.attract = preloaded("sample", clip)
    summary = Summary()
    loop = Loop(settings, pipeline, summary, True, lambda m: None, None, kiosk)
    booth = Booth(loop, clock, probe, args.roll, tmp)
    loop.sinks.append(_Each(booth))
    with _small_jobs_on_one_thread(backend):
        try:
            loop.play(kiosk.source)
        finally:
            loop.close()
            kiosk.source.close()
    return summary, booth


class _Each:
    """A sink calling fn(frame number) after every other sink has had the frame."""

    def __init__(self, fn):
        self.fn = fn

    def write(self, shown) -> None:
        self.fn(shown.index + 1)

    def close(self) -> None:
        pass


def run_figures(args, size, summary, backend, bare_before: list[float]) -> tuple[dict, tuple[float, float]]:
    """The figures of one run (fps, latencies, stages, inference alone and in pairs), and the medians of the
    bare inference before and after it."""
    bare_after = bare_inference_ms(backend, len(bare_before))
    backend.halves(wait=True)     # loaded in the background during the run (as in the app); wait, to be sure
    pair_ms = float(np.median(pair_inference_ms(backend, 2 * len(bare_before))))
    bare_ms = float(np.median(bare_before + bare_after))
    halves = float(np.median(bare_before)), float(np.median(bare_after))
    st = {k: np.asarray(v) for k, v in summary.stage_ms.items()}
    frame_ms, latency_ms = st["frame"], st["latency"]
    res = {
        "frames": summary.frames, "size": f"{size[0]}x{size[1]}",
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
    return res, halves


def report(res: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:24s} {v}")


OTHERS = {"backends": "bench_backends", "record": "bench_record", "make": "bench_make"}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in OTHERS:             # one entry point: the other benchmarks by name
        import importlib
        return importlib.import_module(f"scripts.{OTHERS[argv[0]]}").main(argv[1:])
    return bench_app(argv)


@one_line_errors
def bench_app(argv=None) -> int:
    """The app's pipeline: speed, memory, a booth day (the module docstring)."""
    args = parse_args(argv)
    from models import UserError, load_classifier
    from models.backend import make_backend

    frames = args.soak or args.frames
    tmpdir = tempfile.TemporaryDirectory(prefix="bench-")       # the recordings are thrown away at exit
    if args.kiosk and not args.soak:
        raise UserError("--kiosk goes with --soak N (a booth day of N frames)")
    size = parse_size(args.size)
    settings = make_settings(args, size, tmpdir.name)
    probe = Probe(frames, min(BOOTH_WARM if args.kiosk else SOAK_WARM, frames // 10), bool(args.soak),
                  args.kiosk or not args.json)          # a booth day's progress goes to stderr, JSON or not
    backend = make_backend(load_classifier(device=args.device), args.backend)
    backend.incremental = not args.no_incremental
    source = preloaded(args.source, held_frames(args.source, size, args.preload)) if args.preload else None
    bare_before = bare_inference_ms(backend, reference_runs(frames))
    if args.kiosk:
        summary, booth = play_booth(args, settings, backend, probe, tmpdir.name)
    else:
        summary = play(settings, backend, source, probe)
    res, halves = run_figures(args, size, summary, backend, bare_before)
    if args.soak:
        res.update(probe.figures())
    if args.kiosk:
        res.update({**probe.counts(), **booth.figures()})
    if args.with_make and not args.soak:
        res.update(beside_make(args, settings, backend, source))
    if not args.no_train and not args.soak:
        res["train_step_s"] = round(train_step_s(), 3)
    if max(halves) > 1.25 * min(halves):
        print(f"warning: bare inference took {halves[0]:.1f} ms before the run and {halves[1]:.1f} ms after it: "
              "the machine was busy with something else, these figures are unreliable; run again", file=sys.stderr)
    report(res, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
