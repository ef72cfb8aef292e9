"""Classify a frame and the same frame with a block pasted, without paying twice for the shared part.

The two classifier inputs differ only around the block (a few % of the pixels). The network's front half
is local: output cell j (stride S) is computed from input pixels S·j+lo … S·j+hi only (the model's
`window`). So the pasted image's front features equal the clean image's everywhere except the cells whose
window touches the changed pixels; those are recomputed from a crop of the pasted image just big enough to
hold their windows, written over a copy of the clean features, and the back half runs on both as one
batch. The logits and feature maps are the ones a full pass gives (same arithmetic, float rounding
aside); the saving is most of one front half per frame.

    front(x) -> f          # N×3×H×W -> N×C×H/S×W/S; H, W multiples of S
    back(f) -> (logits, fmap)
    logits, fmap = infer_pair(front, back, window, before, after[, changed])   # before/after: 3×H×W float32
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CROP_SHARE = 0.6   # a crop bigger than this share of the image: two full passes are as cheap
ROUND = 32             # crop sides rounded up to a multiple of this, so few distinct shapes reach the runtime


@dataclass(frozen=True)
class Plan:
    cells: tuple[int, int, int, int]   # (j0, j1, i0, i1): feature rows j0..j1-1, columns i0..i1-1 to replace
    crop: tuple[int, int, int, int]    # (y0, y1, x0, x1): input pixels to run the front on (multiples of S)


def changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) bounding box of the pixels where C×H×W arrays `a` and `b` differ; None if equal."""
    diff = (a != b).any(axis=0)
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def cells_touched(p0: int, p1: int, n: int, window: tuple[int, int, int]) -> tuple[int, int]:
    """Along one axis of n input pixels: the feature cells [c0, c1) whose window meets pixels [p0, p1)."""
    s, lo, hi = window
    c0 = max(0, -((hi - p0) // s))              # first j with s·j + hi ≥ p0
    c1 = min(n // s, (p1 - 1 - lo) // s + 1)    # last j with s·j + lo ≤ p1 − 1, plus one
    return c0, c1


def windows_span(c0: int, c1: int, window: tuple[int, int, int]) -> tuple[int, int]:
    """The input pixels [x0, x1) holding the windows of cells [c0, c1), rounded out to whole cells
    (multiples of S; may reach beyond the image, where a crop's padding is the image's own)."""
    s, lo, hi = window
    return (s * c0 + lo) // s * s, -(-(s * (c1 - 1) + hi + 1) // s) * s


def crop_of(c0: int, c1: int, n: int, window: tuple[int, int, int]) -> tuple[int, int]:
    """[x0, x1): the windows of cells [c0, c1) inside n pixels, grown to a multiple of ROUND (within n)."""
    x0, x1 = windows_span(c0, c1, window)
    x0, x1 = max(0, x0), min(n, x1)
    side = min(n, -(-(x1 - x0) // ROUND) * ROUND)
    x1 = min(n, x0 + side)                    # grow to the rounded side, inside the image
    return max(0, x1 - side), x1


def _span(p0: int, p1: int, n: int, window: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Along one axis of n input pixels: cells [c0, c1) whose window meets pixels [p0, p1), and the crop
    [x0, x1) (multiples of S, or the image edge) that holds all of those cells' windows."""
    c0, c1 = cells_touched(p0, p1, n, window)
    return (c0, c1, *crop_of(c0, c1, n, window))


def plan(box: tuple[int, int, int, int], shape: tuple[int, int], window: tuple[int, int, int]) -> Plan | None:
    """What to recompute for a change inside `box` (y0, y1, x0, x1) of an H×W input; None when the crop
    would cover more than MAX_CROP_SHARE of the image (or H, W are not multiples of the stride)."""
    h, w = shape
    s = window[0]
    if h % s or w % s:
        return None
    j0, j1, y0, y1 = _span(box[0], box[1], h, window)
    i0, i1, x0, x1 = _span(box[2], box[3], w, window)
    if (y1 - y0) * (x1 - x0) > MAX_CROP_SHARE * h * w:
        return None
    return Plan((j0, j1, i0, i1), (y0, y1, x0, x1))


def crop_plan(boxes, size: int, window: tuple[int, int, int]) -> tuple[int, list, list]:
    """For N changed pixel boxes (y0, y1, x0, x1) on size×size inputs, one crop side for all (so the crops
    make one batch; a multiple of the stride S) and each crop's (y, x) origin, and each image's feature cells
    (j0, j1, i0, i1) whose input windows lie inside its crop (or meet the image edge, where the crop's padding
    is the image's). `boxes`: N×4, a list or anything with `tolist()` (a tensor). Block training batches
    these (blocks.attacks.eot); `plan` is the same rule for one box, its crop rounded to ROUND."""
    spans = [(*cells_touched(y0, y1, size, window), *cells_touched(x0, x1, size, window))
             for y0, y1, x0, x1 in (boxes.tolist() if hasattr(boxes, "tolist") else boxes)]

    def need(c0, c1):
        x0, x1 = windows_span(c0, c1, window)
        return x1 - x0
    side = min(size, max(max(need(j0, j1), need(i0, i1)) for j0, j1, i0, i1 in spans))

    def origin(c0):          # the crop starts at cell c0's window (rounded to a cell), inside the image
        return min(max(0, windows_span(c0, c0 + 1, window)[0]), size - side)
    return side, [(origin(j0), origin(i0)) for j0, _, i0, _ in spans], spans


def splice(feats, part, cells: tuple[int, int, int, int], origin: tuple[int, int], stride: int, i: int = 0) -> None:
    """Write feature cells (j0, j1, i0, i1) of image i, as computed on a crop at pixel `origin` (y, x)
    (`part`: the front's output on the crops), into `feats` (the image's front features). Numpy or torch."""
    j0, j1, i0, i1 = cells
    y, x = origin[0] // stride, origin[1] // stride
    feats[i, :, j0:j1, i0:i1] = part[i, :, j0 - y:j1 - y, i0 - x:i1 - x]


def infer_pair(front, back, window, before: np.ndarray, after: np.ndarray,
               changed: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(logits 2×K, fmap 2×C×h×w) for the two 3×H×W inputs, recomputing only what `after` changes.

    `changed` (y0, y1, x0, x1): input pixels outside which `after` equals `before`, from the caller that
    made `after` (the app knows where it pasted); None: found by comparing the two (`changed_box`). A box
    that is too small gives wrong features around it; one too big only costs time."""
    if changed is None:
        box = changed_box(before, after)
    else:
        box = changed if changed[1] > changed[0] and changed[3] > changed[2] else None   # empty: no change
    p = plan(box, before.shape[1:], window) if box is not None else None
    if box is not None and p is None:
        return back(front(np.stack([before, after])))
    f = front(before[None])
    if p is None:                                  # identical inputs
        logits, fmap = back(f)
        return np.concatenate([logits, logits]), np.concatenate([fmap, fmap])
    y0, y1, x0, x1 = p.crop
    part = front(np.ascontiguousarray(after[None, :, y0:y1, x0:x1]))
    g = f.copy()
    splice(g, part, p.cells, (y0, x0), window[0])
    return back(np.concatenate([f, g]))
