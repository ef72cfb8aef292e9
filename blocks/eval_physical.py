"""How the shipped blocks survive print and camera, in simulation (blocks.physical): targeted success on a
folder of photos with the block pasted as usual, and with it printed, tilted, unevenly lit, then seen through
a blurry, noisy, JPEG-compressing camera, at each --strength; --ablate adds one row per effect alone.

    python -m blocks eval physical --block hog [giant_panda] [--photos tests/data/photos] [--trials 20]
        [--strength 0.5 1.0] [--ablate [tilt ...]] [--json]


The pastes are the evaluation's random protocol (blocks.evaluate: position fully inside, rotation ±20°,
scale ×0.85–1.15, brightness ×0.8–1.2, seed 0) and the same for every row and block; the physical
parameters come from their own generator (seed + 1), so the rows differ only by the physical effects.
The "no physical" row reproduces the README's evaluation (hog 65.9% on tests/data/photos, seed 0).
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from models import load_classifier, load_photos
from models.cli import command_main

from .library import load_block
from .paste import EVAL_RANGES, PasteParams, sample_params
from .physical import PhysicalParams, paste_physical, sample_physical

EFFECTS = {"gamut": ("saturation", "black", "white", "cast"), "tilt": ("tilt",), "light": ("light",),
           "blur": ("blur",), "noise": ("noise",), "jpeg": ("jpeg",)}


def _rows(params, sl):
    return type(params)(**{f.name: getattr(params, f.name)[sl] for f in dataclasses.fields(params)})


@torch.no_grad()
def success(model, photos, clean, block, target: int, where: PasteParams, idx, phys: PhysicalParams,
            batch=32) -> dict:
    """Targeted and untargeted (top-1 not `clean`'s) success and mean p(target) of `block` pasted at `where`
    on photos[idx]."""
    hit = moved = 0
    prob = 0.0
    for start in range(0, len(idx), batch):
        sl = slice(start, start + batch)
        probs = model(paste_physical(photos[idx[sl]], block, _rows(where, sl), _rows(phys, sl))).softmax(1)
        top = probs.argmax(1)
        hit += int((top == target).sum())
        moved += int((top != clean[idx[sl]]).sum())
        prob += float(probs[:, target].sum())
    return {"targeted": hit / len(idx), "untargeted": moved / len(idx), "p_target": prob / len(idx)}


def settings(n: int, strengths, ablate: list[str] | None, seed: int) -> dict[str, PhysicalParams]:
    """Named physical parameters: none, each strength, and each effect in `ablate` (all if empty) alone at
    strength 1."""
    draw = lambda s: sample_physical(n, s, torch.Generator().manual_seed(seed + 1))  # noqa: E731
    out = {"no physical": draw(0.0)}
    out.update({f"physical {s:g}": draw(s) for s in strengths})
    full = draw(1.0)
    for name in (ablate or EFFECTS) if ablate is not None else ():
        out[f"{name} only"] = dataclasses.replace(out["no physical"], **{k: getattr(full, k) for k in EFFECTS[name]})
    return out


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--block", nargs="+", default=["hog"], help="library names or NAME.png")
    ap.add_argument("--photos", default="tests/data/photos")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strength", type=float, nargs="+", default=[0.5, 1.0])
    ap.add_argument("--ablate", nargs="*", choices=sorted(EFFECTS),
                    help="one row per effect alone at strength 1 (all effects if none are named)")
    ap.add_argument("--json", action="store_true")


def run(args) -> int:
    blocks = [load_block(b) for b in args.block]
    model = load_classifier(blocks[0].info.model, "cpu")
    photos, _ = load_photos(args.photos, model.input_size)
    idx = torch.arange(len(photos)).repeat_interleave(args.trials)
    with torch.no_grad():
        clean = torch.cat([model(p).argmax(1) for p in photos.split(32)])
    results = []
    for block in blocks:
        info = block.info
        where = sample_params(len(idx), info.area, EVAL_RANGES, torch.Generator().manual_seed(args.seed))
        for name, phys in settings(len(idx), args.strength, args.ablate, args.seed).items():
            r = {"block": block.name, "setting": name, **success(model, photos, clean, block.image, info.target,
                                                                  where, idx, phys)}
            results.append(r)
            if not args.json:
                print(f"{r['block']:12s} {name:14s} targeted {r['targeted']:6.1%}  untargeted {r['untargeted']:6.1%}"
                      f"  p(target) {r['p_target']:.3f}", flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


main = command_main(__doc__, add_arguments, run)
