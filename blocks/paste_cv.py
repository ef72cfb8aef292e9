"""The paste on one camera frame, with OpenCV: :func:`blocks.paste.paste`'s twin for the live app.

Same parameters (centre and side as fractions of the frame, angle in degrees, brightness) and the same
geometry and blending as the torch paste, to within one grey level, ~10× faster on a 640×480 frame.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch


def _sampling_map(shape, block_px: int, center: tuple[float, float], side: float, angle: float) -> np.ndarray:
    """3×3 affine map from frame pixel (x, y) to block pixel (u, v) (dst -> src, as grid_sample samples)."""
    hgt, wid = shape[:2]
    s = block_px
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    # frame pixel (x, y) -> normalised p = ((2x+1)/W - 1, (2y+1)/H - 1) -> q = A (p - c) -> block pixel
    # u = ((q + 1) s - 1) / 2: all affine, composed into one map.
    to_p = np.array([[2 / wid, 0, 1 / wid - 1], [0, 2 / hgt, 1 / hgt - 1], [0, 0, 1]])
    c = (center[0] * 2 - 1, center[1] * 2 - 1)
    a = np.array([[cos, -sin], [sin, cos]]) / side
    to_q = np.eye(3)
    to_q[:2, :2], to_q[:2, 2] = a, -a @ np.asarray(c)
    to_u = np.array([[s / 2, 0, (s - 1) / 2], [0, s / 2, (s - 1) / 2], [0, 0, 1]])
    return to_u @ to_q @ to_p


def _box(m: np.ndarray, block_px: int, shape) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) frame pixels the block sampled through `m` reaches: bilinear sampling reaches one
    block pixel past the block's pixel centres (u in (-1, s)), a soft edge that a magnified block spreads
    over several frame pixels. Clipped to the frame (empty when the block is outside it)."""
    s = block_px
    corners = np.linalg.inv(m) @ np.array([[-1, s, s, -1], [-1, -1, s, s], [1] * 4])
    x0, y0 = (max(0, int(math.floor(v.min()))) for v in corners[:2])
    x1 = min(shape[1], int(math.ceil(corners[0].max())) + 1)
    y1 = min(shape[0], int(math.ceil(corners[1].max())) + 1)
    return y0, y1, x0, x1


def paste_box(shape, block_px: int, center: tuple[float, float], side: float,
              angle: float = 0.0) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the pixels of a frame of `shape` that :func:`paste_frame` may change when it pastes
    a block of `block_px` pixels at `center`, `side`, `angle`; every pixel outside stays as it was."""
    return _box(_sampling_map(shape, block_px, center, side, angle), block_px, shape)


def paste_frame(frame, block, center: tuple[float, float], side: float, angle: float = 0.0,
                brightness: float = 1.0):
    """:func:`blocks.paste.paste` for one BGR uint8 frame, with OpenCV: the same geometry and blending
    (sampling grids agree to OpenCV's 1/32-pixel interpolation step), ~10× faster than grid_sample here.

    `block` is the block as RGB float 3×s×s (tensor or array). Only :func:`paste_box` is touched; a new
    frame is returned. The live app pastes with this; training and evaluation use the torch paste.
    """
    blk = block.detach().cpu().numpy() if isinstance(block, torch.Tensor) else np.asarray(block)
    s = blk.shape[-1]
    rgba = np.empty((s, s, 4), np.float32)
    rgba[..., :3] = np.clip(blk[::-1].transpose(1, 2, 0) * brightness, 0, 1) * 255    # BGR, lit, 0..255
    rgba[..., 3] = 1.0
    m = _sampling_map(frame.shape, s, center, side, angle)
    y0, y1, x0, x1 = _box(m, s, frame.shape)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]])
    sampled = cv2.warpAffine(rgba, (m @ shift)[:2], (x1 - x0, y1 - y0),
                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(0, 0, 0, 0))
    roi = out[y0:y1, x0:x1].astype(np.float32)
    mask = sampled[..., 3:]
    out[y0:y1, x0:x1] = np.clip(roi * (1 - mask) + sampled[..., :3] + 0.5, 0, 255).astype(np.uint8)
    return out
