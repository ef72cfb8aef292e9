"""The one place that converts between OpenCV frames (BGR uint8, H×W×3) and model tensors (RGB float [0,1])."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def to_tensor(bgr: np.ndarray, size: int | None = None) -> torch.Tensor:
    """BGR uint8 H×W×3 -> RGB float 3×S×S in [0,1] (the whole frame, resized to size×size when given)."""
    if size is not None and bgr.shape[:2] != (size, size):
        bgr = shrink(bgr, size)
    return torch.from_numpy(to_input(bgr))


def to_input(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 H×W×3 -> RGB float32 3×H×W in [0,1], as a numpy array (~6× faster than via torch)."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return np.multiply(rgb.transpose(2, 0, 1), np.float32(1 / 255), dtype=np.float32)


def shrink(bgr: np.ndarray, size: int) -> np.ndarray:
    """Resize to size×size, anti-aliased: Gaussian halvings (pyrDown) while both sides stay ≥ 2·size, then
    bilinear. As smooth as INTER_AREA and ~7× faster on a 640×480 frame (0.45 ms vs 3.2 ms here)."""
    while bgr.shape[0] >= 2 * size and bgr.shape[1] >= 2 * size:
        bgr = cv2.pyrDown(bgr)
    return cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR)


def to_bgr(t: torch.Tensor) -> np.ndarray:
    """RGB float 3×H×W in [0,1] -> BGR uint8 H×W×3."""
    rgb = (t.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy())
    return np.ascontiguousarray(rgb[:, :, ::-1])


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8, or raise UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"image {path} does not exist")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"image {path} cannot be decoded (corrupt or not an image)")
    return img


def image_files(folder: str | Path, recursive: bool = False) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"photo folder {folder} does not exist")
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"photo folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_photos(folder: str | Path, size: int = 224, recursive: bool = False) -> tuple[torch.Tensor, list[Path]]:
    """Every image in a folder (and its subfolders with `recursive`), resized to size×size: (N×3×S×S, paths)."""
    files = image_files(folder, recursive)
    return torch.stack([to_tensor(read_image(p), size) for p in files]), files
