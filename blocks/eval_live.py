"""The number a user sees: the share of frames whose right pane says the block's target, measured with the
app's own pipeline, headless.

    python -m blocks eval live --source CLIP_OR_DIR_OR_IMAGE --block NAME [--frames N] [--scale S] [--seed K]
                               [--json]


Every frame goes through what `python -m app --source ... --headless` does to it (app.sources.open_source,
fitted to the processing size, app.pipeline.Pipeline.step with the settings of config.yaml or --config):
the block goes on the box the CAM found on the frames before, and the after-label is read. Frames whose
BEFORE-label already is the target are left out (nothing to change); frames where nothing was pasted (no
animal seen: the app pastes only on an animal) count as failures: the user sees no change.

A folder is judged photo by photo: each image in it (subfolders included) is played as its own source, the
app's pan-and-zoom clip of one image, for --frames frames (default: the whole clip the app plays for a photo,
3 s = 90 frames at 30 fps) with a fresh pipeline (no box carried over from the photo before). Reported: each
photo's share, the total over all frames, the mean over photos, the worst photo, chickens apart (photos
whose clean before-label is ImageNet 7 `cock` or 8 `hen` in most of their frames), and the share over the
photos the app sees as an animal (before-label an animal in most of their frames; a photo it never sees as
one never gets a block). A video file, `sample` or one image gives one
share (a video: every frame unless --frames). The model is loaded once for everything.

Each photo plays with the app's own camera move (seed 0). `--seed K` (K ≥ 1) gives each photo a random move
of the same kind instead (zoom, pan and roll drawn per photo from the ranges of app.sample.MOTIONS): run
seeds 0, 1, 2 for a figure's spread over camera paths.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from app.config import load_settings, override
from app.run import fit, library, make_pipeline
from app.sample import MOTIONS, random_motion
from app.sources import IMAGE_EXTS, open_source
from models import CHICKENS, UserError, is_animal, load_classifier
from models.backend import make_backend
from models.cli import command_main

from .library import load_block


@dataclass
class Tally:
    """One source's frames: how many, left out (before-label already the target), judged, fooled, and
    judged frames where nothing was pasted; the before-labels seen, for the majority."""
    name: str
    frames: int = 0
    left_out: int = 0
    judged: int = 0
    fooled: int = 0
    not_pasted: int = 0
    chicken_judged: int = 0            # judged frames whose before-label is a chicken, and of them fooled
    chicken_fooled: int = 0
    seconds: float = 0.0
    first_frame_s: float | None = None   # from opening to the first frame judged (the per-source startup)
    before: collections.Counter = field(default_factory=collections.Counter)

    def add(self, res, target: int) -> None:
        self.frames += 1
        self.before[res.before.index] += 1
        if res.before.index == target:
            self.left_out += 1
            return
        fooled = res.block is not None and res.after.index == target
        self.judged += 1
        self.fooled += fooled
        self.not_pasted += res.block is None
        if res.before.index in CHICKENS:
            self.chicken_judged += 1
            self.chicken_fooled += fooled

    @property
    def majority(self) -> int | None:
        return self.before.most_common(1)[0][0] if self.before else None


def settings_for(args):
    """The app's settings (config.yaml or --config) with this run's source, block and scale; headless,
    every frame, only the block judged in memory."""
    settings = load_settings(args.config)
    return override(settings, {"source": args.source, "block.name": args.block, "block.cycle": [args.block],
                               "block.scale": args.scale, "block.enabled": True, "backend": args.backend,
                               "ui.headless": True, "realtime": False, "loop": False, "max_frames": 0})


def photos_in(source: str) -> list[Path] | None:
    """The images to judge one by one (a folder, recursively, or one image); None for a clip."""
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise UserError(f"no images ({', '.join(IMAGE_EXTS)}) in folder: {source}")
        return files
    if path.is_file() and path.suffix.lower() in IMAGE_EXTS:
        return [path]
    return None


def play(settings, backend, source, name: str, frames: int | None, t0: float) -> Tally:
    """One source (opened at `t0`) through a fresh pipeline (the app's, on the shared backend) for `frames`
    frames (None: to its end); the source is closed after."""
    try:
        pipeline = make_pipeline(settings, backend)
        target = pipeline.block.info.target
        tally = Tally(name)
        while not frames or tally.frames < frames:
            frame = source.read()
            if frame is None:
                if source.ended:
                    break
                continue
            tally.add(pipeline.step(fit(frame, settings.size)), target)
            if tally.first_frame_s is None:
                tally.first_frame_s = time.perf_counter() - t0
    finally:
        source.close()
    tally.seconds = time.perf_counter() - t0
    return tally


def photo_source(settings, path: Path, seed: int = 0):
    """The app's source for one photo: its pan-and-zoom clip, looped so that any number of frames plays.
    Seed 0 is the app's own camera move; another seed gives each photo a move of its own drawn from the same
    ranges (app.sample.random_motion), the same for the same seed and photo name."""
    rng = np.random.default_rng([seed, zlib.crc32(path.name.encode())])
    motions = [random_motion(rng)] if seed else MOTIONS
    return open_source(str(path), size=settings.size, loop=True, realtime=False, fps=settings.fps, motions=motions)


def share(fooled: int, judged: int) -> float | None:
    return round(fooled / judged, 4) if judged else None


def photo_row(t: Tally, names: list[str]) -> dict:
    top = t.majority
    return {"photo": t.name, "frames": t.frames, "left_out": t.left_out, "judged": t.judged, "fooled": t.fooled,
            "not_pasted": t.not_pasted, "share": share(t.fooled, t.judged),
            "before": top, "before_name": names[top] if top is not None else None,
            "animal": top is not None and is_animal(top), "chicken": top in CHICKENS,
            "seconds": round(t.seconds, 3), "first_frame_s": t.first_frame_s and round(t.first_frame_s, 4)}


def summarize(tallies: list[Tally], names: list[str]) -> dict:
    """Totals over frames, the mean and the worst over photos, chickens (by majority) apart."""
    rows = [photo_row(t, names) for t in tallies]
    judged = [r for r in rows if r["share"] is not None]
    chicks = [t for t, r in zip(tallies, rows) if r["chicken"]]
    animals = [t for t, r in zip(tallies, rows) if r["animal"]]
    worst = min(judged, key=lambda r: r["share"], default=None)
    frames = sum(t.frames for t in tallies)
    starts = [t.first_frame_s for t in tallies if t.first_frame_s is not None]
    seconds = sum(t.seconds for t in tallies)
    return {
        "share": share(sum(t.fooled for t in tallies), sum(t.judged for t in tallies)),
        "frames": frames, "left_out": sum(t.left_out for t in tallies), "judged": sum(t.judged for t in tallies),
        "fooled": sum(t.fooled for t in tallies), "not_pasted": sum(t.not_pasted for t in tallies),
        "mean_over_photos": round(sum(r["share"] for r in judged) / len(judged), 4) if judged else None,
        "worst": {"photo": worst["photo"], "share": worst["share"]} if worst else None,
        "chickens": {"photos": len(chicks), "frames": sum(t.frames for t in chicks),
                     "judged": sum(t.judged for t in chicks), "fooled": sum(t.fooled for t in chicks),
                     "share": share(sum(t.fooled for t in chicks), sum(t.judged for t in chicks))},
        "animal_photos": {"photos": len(animals), "judged": sum(t.judged for t in animals),
                          "fooled": sum(t.fooled for t in animals),
                          "share": share(sum(t.fooled for t in animals), sum(t.judged for t in animals))},
        "chicken_frames": {"judged": sum(t.chicken_judged for t in tallies),
                           "share": share(sum(t.chicken_fooled for t in tallies),
                                          sum(t.chicken_judged for t in tallies))},
        "fps": round(frames / seconds, 2) if seconds else None,
        "first_frame_s_median": round(statistics.median(starts), 4) if starts else None,
        "per_photo": rows,
    }


def pct(v) -> str:
    return "     -" if v is None else f"{v:6.1%}"


def print_tables(res: dict) -> None:
    print(f"block {res['block']} -> {res['target_name']!r} at area {res['area']:.4f} (scale {res['scale']:g}), "
          f"{res['kind']} {res['source']} (camera seed {res['seed']}), model {res['model']} ({res['backend']})")
    if res["kind"] == "photos":
        print(f"\n{'photo':34s} {'share':>6s} {'fooled':>7s} {'judged':>7s} {'left out':>8s} {'no paste':>8s}  "
              f"before (majority)")
        for r in sorted(res["per_photo"], key=lambda r: (r["share"] is None, r["share"] or 0)):
            mark = "*" if r["chicken"] else " "
            print(f"{mark}{r['photo'][-33:]:33s} {pct(r['share'])} {r['fooled']:7d} {r['judged']:7d} "
                  f"{r['left_out']:8d} {r['not_pasted']:8d}  {r['before_name']}"
                  + ("" if r["animal"] else " (not an animal: no block)"))
        print("(* chickens)")
    worst = res["worst"]
    ch = res["chickens"]
    print(f"\nlive share of frames turned {res['target_name']!r}: {pct(res['share']).strip()} "
          f"({res['fooled']}/{res['judged']} frames; {res['left_out']} left out as already the target, "
          f"{res['not_pasted']} judged frames with nothing pasted)")
    if res["kind"] == "photos":
        print(f"mean over {len(res['per_photo'])} photos: {pct(res['mean_over_photos']).strip()}; worst: "
              f"{worst['photo'] if worst else '-'} {pct(worst['share'] if worst else None).strip()}")
        print(f"chickens: {pct(ch['share']).strip()} ({ch['fooled']}/{ch['judged']} frames of {ch['photos']} photos)")
        an = res["animal_photos"]
        print(f"photos the app sees as an animal: {pct(an['share']).strip()} ({an['fooled']}/{an['judged']} frames "
              f"of {an['photos']} photos)")
    else:
        cf = res["chicken_frames"]
        print(f"frames showing a chicken: {pct(cf['share']).strip()} of {cf['judged']}")
    print(f"{res['frames']} frames in {res['seconds']:.1f} s: {res['fps']} frames/s "
          f"(model loaded once in {res['startup_s']:.1f} s; per source, open to first frame judged: median "
          f"{(res['first_frame_s_median'] or 0) * 1e3:.0f} ms)")


def evaluate(args) -> dict:
    """Check the source and the block, load the model and backend once, then play every source."""
    settings = settings_for(args)
    files = photos_in(settings.source)
    clip = None
    if files is None:                   # a missing file or an unreadable video fails here, before the model
        clip = open_source(settings.source, size=settings.size, realtime=False, fps=settings.fps)
        if args.seed:
            clip.close()
            raise UserError("--seed applies to photos (a folder or an image), not to a clip")
        if clip.live and not args.frames:
            clip.close()
            raise UserError(f"{settings.source} is a live source: give --frames")
    try:
        load_block(settings.block.name, folder=library(settings))    # before the model: a quick error
        t0 = time.perf_counter()
        model = load_classifier(settings.model, settings.device, settings.weights)
        backend = make_backend(model, settings.backend, settings.threads or None)
        block = make_pipeline(settings, backend).block
    except BaseException:
        if clip is not None:
            clip.close()
        raise
    startup = time.perf_counter() - t0
    if backend.name == "onnx":          # as the app's run loop: small jobs on one thread beside ONNX Runtime
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
    if clip is not None:
        tallies = [play(settings, backend, clip, settings.source, args.frames, time.perf_counter())]
    else:
        tallies = []
        for f in files:
            t = time.perf_counter()
            source = photo_source(settings, f, args.seed)
            tallies.append(play(settings, backend, source, str(f), args.frames or source.frame_count, t))
    res = summarize(tallies, backend.class_names)
    return {"source": settings.source, "kind": "clip" if clip is not None else "photos", "seed": args.seed,
            "block": str(block.path), "target": block.info.target, "target_name": block.info.target_name,
            "scale": settings.block.scale, "area": round(block.info.area * settings.block.scale ** 2, 5),
            "model": backend.model_name, "backend": backend.name, "startup_s": round(startup, 2),
            "seconds": round(sum(t.seconds for t in tallies), 2), **res}


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--source", required=True, help="a folder of photos, an image, a video file or 'sample'")
    ap.add_argument("--block", required=True, help="library block name or PNG path (its JSON beside it)")
    ap.add_argument("--frames", type=int, help="frames per photo (default: its whole clip, 90 at 30 fps); "
                    "for a clip: stop after N (default: to its end)")
    ap.add_argument("--scale", type=float, help="block side × this (default: config's block.scale)")
    ap.add_argument("--seed", type=int, default=0, help="photos only: 0 (default) plays each photo with the "
                    "app's own camera move; another seed gives each photo a random move of the same kind")
    ap.add_argument("--backend", help="auto | onnx | torch (default: config's)")
    ap.add_argument("--config", help="settings file (default: config.yaml)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")


def run(args) -> int:
    if args.frames is not None and args.frames < 1:
        raise UserError(f"--frames must be ≥ 1, got {args.frames}")
    if args.seed < 0:
        raise UserError(f"--seed must be ≥ 0, got {args.seed}")
    res = evaluate(args)
    if args.json:
        print(json.dumps(res))
    else:
        print_tables(res)
    return 0


main = command_main(__doc__, add_arguments, run)
