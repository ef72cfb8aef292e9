"""Training photos: loaded from folders, minus anything held out (by name and by content), and varied.

Blocks are judged on photos they never saw, so the hold-out compares content, not only names: a copy of a
held-out photo under another name or size (GCompris ships the test set's animal photos) is left out too.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from models import UserError, load_photos

COPY_DIFF = 0.03       # mean |Δ| of 16×16 grey thumbnails below which two photos are the same picture


def thumbnails(x: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x.mean(1, keepdim=True), 16).flatten(1)


def training_photos(folders: list[str], holdout: list[str] | str | None, size: int
                    ) -> tuple[torch.Tensor, list[Path], list[str]]:
    """Training photos from one or more folders (subfolders included), minus the held-out photos: those
    with a held-out file's name, and any near-copy of one under another name (same 16×16 thumbnail).
    Returns (N×3×S×S photos, their files, their names as recorded in a block's JSON: "FOLDER/relative/path")."""
    photos, files = [], []
    for folder in folders:
        x, f = load_photos(folder, size, recursive=True)
        photos.append(x)
        files += [(Path(folder), p) for p in f]
    photos = torch.cat(photos)
    for held_dir in [holdout] if isinstance(holdout, str) else holdout or []:
        held, held_files = load_photos(held_dir, size, recursive=True)
        names = {p.stem for p in held_files}
        copies = ((torch.cdist(thumbnails(photos), thumbnails(held), p=1) / 256) < COPY_DIFF).any(1)
        keep = [i for i, (_, f) in enumerate(files) if f.stem not in names and not copies[i]]
        if not keep:
            raise UserError(f"every photo in {', '.join(folders)} is held out by {held_dir}")
        if len(keep) < len(files):
            print(f"held out {len(files) - len(keep)} photos matching {held_dir} by name or content")
        photos, files = photos[keep], [files[i] for i in keep]
    return photos, [f for _, f in files], [f"{root.name}/{f.relative_to(root)}" for root, f in files]


def jitter_colour(x: torch.Tensor, generator: torch.Generator, amount: float = 0.3) -> torch.Tensor:
    """Saturation, contrast and brightness each ×(1 ± amount) (mirroring is the camera's: placement.py)."""
    n = x.shape[0]

    def u():
        return (1 - amount + 2 * amount * torch.rand(n, generator=generator)).view(n, 1, 1, 1).to(x)
    grey = x.mean(dim=1, keepdim=True)
    x = grey + (x - grey) * u()
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((mean + (x - mean) * u()) * u()).clamp(0, 1)
