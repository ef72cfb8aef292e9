"""Training photos: loaded from folders, minus anything held out (by name and by content), and varied.

Blocks are judged on photos they never saw, so the hold-out compares content, not only names: a copy of a
held-out photo under another name or size (GCompris ships the test set's animal photos) is left out too.

Decoding and resizing thousands of JPEGs takes minutes, so each folder's resized photos are cached (uint8, one
.npy per folder and size, with a .json naming its files) in $CHICKEN_SAVIOUR_CACHE, else
$XDG_CACHE_HOME/chicken-saviour/photos (~/.cache/chicken-saviour/photos). The cache's key is the folder's path,
the size and every file's relative path, byte size and modification time: any change decodes the folder again.
Folders of fewer than CACHE_MIN photos are not cached (they load in a moment). The CAM boxes of the training
photos (blocks.train.photo_boxes) are cached there too, photo by photo, keyed by the model and each photo's
pixels: another seed's split or one more folder computes only the boxes of photos never seen.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models import UserError
from models.paths import user_cache
from models.preprocess import image_files, read_image, shrink

COPY_DIFF = 0.03       # mean |Δ| of 16×16 grey thumbnails below which two photos are the same picture
CACHE_ENV = "CHICKEN_SAVIOUR_CACHE"
CACHE_MIN = 64         # folders with fewer photos are decoded each time


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return user_cache() / "photos"


def decode(path: Path, size: int) -> np.ndarray:
    """One photo as the classifier's input, BGR uint8 size×size×3 (models.to_tensor's resize)."""
    img = read_image(path)
    return img if img.shape[:2] == (size, size) else shrink(img, size)


def as_tensor(bgr: np.ndarray) -> torch.Tensor:
    """N×S×S×3 BGR uint8 -> N×3×S×S RGB float [0,1], exactly as models.to_tensor converts one photo."""
    rgb = bgr[..., ::-1].transpose(0, 3, 1, 2)
    return torch.from_numpy(np.multiply(rgb, np.float32(1 / 255), dtype=np.float32))


def _key(folder: Path, files: list[Path], size: int) -> str:
    h = hashlib.sha256(f"{folder.resolve()}\n{size}\n".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(folder)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def load_folder(folder: str | Path, size: int = 224, progress=None, done: int = 0, total: int | None = None,
                cache: bool = True) -> tuple[torch.Tensor, list[Path]]:
    """Every photo in `folder` and its subfolders, resized to size×size: (N×3×S×S, files), from the cache when
    the folder is unchanged. `progress` (blocks.progress.Progress) shows `loading photos done/total`."""
    folder = Path(folder)
    files = image_files(folder, recursive=True)
    total = total if total is not None else len(files)
    use = cache and len(files) >= CACHE_MIN
    if use:
        key = _key(folder, files, size)
        npy = cache_dir() / f"{key}.npy"
        try:
            names = json.loads(npy.with_suffix(".json").read_text())
            if names == [str(f.relative_to(folder)) for f in files]:
                x = np.load(npy)
                if x.shape == (len(files), size, size, 3):
                    if progress is not None:
                        progress.phase("loading photos", done + len(files), total)
                    return as_tensor(x), files
        except (OSError, ValueError):
            pass
    out = np.empty((len(files), size, size, 3), np.uint8)
    for i, f in enumerate(files):
        if progress is not None:
            progress.phase("loading photos", done + i, total)
        out[i] = decode(f, size)
    if use:
        _save_cache(npy, out, [str(f.relative_to(folder)) for f in files])
    return as_tensor(out), files


def photo_keys(photos: torch.Tensor, *extra) -> list[str]:
    """One key per photo (every 8th pixel of it, its shape) and `extra`: for caches kept photo by photo."""
    head = repr((tuple(photos.shape[1:]), *extra)).encode()
    small = photos[:, :, ::8, ::8].contiguous().numpy()
    return [hashlib.sha256(head + p.tobytes()).hexdigest()[:24] for p in small]


def cached_rows(name: str, keys: list[str], compute) -> np.ndarray:
    """One row per key of a table kept in the cache as NAME.npz, photo by photo: only the rows not cached yet
    are computed (`compute(indices)` -> an array of len(indices) rows), so any subset or new mix of photos
    (another seed's split, one more folder) reuses what earlier runs worked out."""
    path = cache_dir() / f"{name}.npz"

    def read() -> dict[str, np.ndarray]:
        try:
            with np.load(path) as z:
                return dict(zip(z["keys"].tolist(), z["rows"]))
        except (OSError, ValueError, KeyError):
            return {}
    if not keys:
        return np.asarray(compute([]))
    known = read()
    missing = [i for i, k in enumerate(keys) if k not in known]
    if missing:
        new = np.asarray(compute(missing))
        known = {**read(), **known, **{keys[i]: row for i, row in zip(missing, new)}}   # another run's rows too
        _save_npz(path, np.array(list(known)), np.stack(list(known.values())))
    return np.stack([known[k] for k in keys])


def _write_atomically(writes: list[tuple[Path, object]]) -> None:
    """Each (path, write(fh)) written to a temporary file and moved into place; a cache that cannot be written
    is only slower next time."""
    try:
        for path, write in writes:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    write(fh)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except OSError:
        pass


def _save_npz(path: Path, keys: np.ndarray, rows: np.ndarray) -> None:
    _write_atomically([(path, lambda fh: np.savez(fh, keys=keys, rows=rows))])


def _save_cache(npy: Path, x: np.ndarray, names: list[str] | None) -> None:
    writes = [(npy, lambda fh: np.save(fh, x))]
    if names is not None:
        writes.append((npy.with_suffix(".json"), lambda fh: fh.write(json.dumps(names).encode())))
    _write_atomically(writes)


def thumbnails(x: torch.Tensor) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x.mean(1, keepdim=True), 16).flatten(1)


def training_photos(folders: list[str], holdout: list[str] | str | None, size: int, progress=None
                    ) -> tuple[torch.Tensor, list[Path], list[str]]:
    """Training photos from one or more folders (subfolders included), minus the held-out photos: those
    with a held-out file's name, and any near-copy of one under another name (same 16×16 thumbnail).
    Returns (N×3×S×S photos, their files, their names as recorded in a block's JSON: "FOLDER/relative/path").
    Decoded photos are cached (load_folder); `progress` shows `loading photos 1200/2750`."""
    held_dirs = [holdout] if isinstance(holdout, str) else list(holdout or [])
    total = sum(len(image_files(f, recursive=True)) for f in [*folders, *held_dirs])
    photos, files, done = [], [], 0
    for folder in folders:
        x, f = load_folder(folder, size, progress, done, total)
        done += len(f)
        photos.append(x)
        files += [(Path(folder), p) for p in f]
    photos = torch.cat(photos)
    for held_dir in held_dirs:
        held, held_files = load_folder(held_dir, size, progress, done, total)
        done += len(held_files)
        names = {p.stem for p in held_files}
        copies = ((torch.cdist(thumbnails(photos), thumbnails(held), p=1) / 256) < COPY_DIFF).any(1)
        keep = [i for i, (_, f) in enumerate(files) if f.stem not in names and not copies[i]]
        if not keep:
            raise UserError(f"every photo in {', '.join(folders)} is held out by {held_dir}")
        if len(keep) < len(files):
            message = f"held out {len(files) - len(keep)} photos matching {held_dir} by name or content"
            progress.say(message) if progress is not None else print(message)
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
