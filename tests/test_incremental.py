"""Incremental inference of a frame and its pasted twin: same logits and feature maps as a full pass."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models import incremental as inc
from models import onnx as monnx
from models.backend import make_backend

PHOTOS = Path(__file__).parent / "data" / "photos"
LOGITS_ATOL = 1e-5   # the README's claim; measured ≤ 5.7e-6 (both backends, 6 photos × 9 placements)
FMAP_ATOL = 4e-5     # feature map (values up to ~6): measured ≤ 2.1e-5


def _same(got, want):
    """infer_pair's (logits, fmap) against a full pass's, at the tolerances above."""
    for g, w, atol in zip(got, want, (LOGITS_ATOL, FMAP_ATOL)):
        assert g.shape == w.shape
        assert np.abs(g - w).max() <= atol


@pytest.fixture(scope="module")
def model():
    return models.load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def photo(model) -> np.ndarray:
    return models.load_photos(PHOTOS, model.input_size)[0][0].numpy()


def _patched(photo, y, x, side, seed=0):
    after = photo.copy()
    after[:, y:y + side, x:x + side] = np.random.default_rng(seed).random((3, side, side), dtype=np.float32)
    return after


def test_window_is_where_a_pixel_reaches(model):
    """Changing one input pixel changes exactly the front cells whose window holds it (so the window is
    neither too small, which would be wrong, nor much too big, which would be slow)."""
    s, lo, hi = model.window
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        f = model.front(x)
        for p in ((0, 0), (97, 130), (223, 5), (150, 223)):
            y = x.clone()
            y[0, :, p[0], p[1]] += 0.5
            changed = (model.front(y) != f).any(dim=1)[0].nonzero().tolist()
            want = [[j, i] for j in range(f.shape[2]) for i in range(f.shape[3])
                    if s * j + lo <= p[0] <= s * j + hi and s * i + lo <= p[1] <= s * i + hi]
            assert sorted(changed) == want, p


@pytest.mark.parametrize("y, x, side", [(0, 0, 50), (174, 174, 50), (0, 174, 50), (174, 0, 50), (87, 61, 50),
                                        (100, 3, 7), (13, 200, 1), (40, 40, 120)])
def test_pair_equals_full_pass(model, photo, y, x, side):
    b = make_backend(model, "torch")
    after = _patched(photo, y, x, side)
    want = b.infer(np.stack([photo, after]))
    got = b.infer_pair(photo, after)
    _same(got, want)
    planned = inc.plan(inc.changed_box(photo, after), photo.shape[1:], model.window) is not None
    assert planned == (side <= 60)       # the 120-px change takes the two-full-passes path


def test_plan_recomputes_a_small_share_and_gives_up_on_big_changes(model):
    h = w = model.input_size
    p = inc.plan((90, 140, 90, 140), (h, w), model.window)        # a 50×50 block mid-image
    y0, y1, x0, x1 = p.crop
    assert (y1 - y0) * (x1 - x0) <= 0.4 * h * w
    assert all(v % model.window[0] == 0 for v in p.crop)
    assert inc.plan((0, h, 0, w), (h, w), model.window) is None       # all changed: two full passes
    assert inc.changed_box(np.zeros((3, 8, 8)), np.zeros((3, 8, 8))) is None


def test_identical_and_wholly_different_pairs(model, photo):
    b = make_backend(model, "torch")
    for after in (photo.copy(), photo[:, ::-1, :].copy()):
        want = b.infer(np.stack([photo, after]))
        got = b.infer_pair(photo, after)
        _same(got, want)


def test_onnx_halves_cached_and_exact(model, photo):
    b = make_backend(model, "onnx")
    assert b.halves(wait=True) is not None
    key = b.path.name[:-len(".onnx")]
    for part in ("front", "back"):
        assert (b.path.parent / f"{key}.{part}.onnx").is_file()
    after = _patched(photo, 120, 30, 50)
    want = b.infer(np.stack([photo, after]))        # ONNX's own full pass (ONNX vs torch: tests/test_onnx.py)
    got = b.infer_pair(photo, after)
    _same(got, want)
    b.incremental = False                            # the switch really switches
    np.testing.assert_array_equal(b.infer_pair(photo, after)[0], b.infer(np.stack([photo, after]))[0])


def test_halves_failing_falls_back_with_one_warning(model, photo, monkeypatch, capsys):
    real = monnx.cached_onnx

    def broken(m, **kw):
        if kw.get("part", "full") != "full":
            raise RuntimeError("disk full")
        return real(m, **kw)
    monkeypatch.setattr(monnx, "cached_onnx", broken)
    b = make_backend(model, "onnx")
    assert b.halves(wait=True) is None
    after = _patched(photo, 10, 10, 50)
    got = b.infer_pair(photo, after)
    np.testing.assert_array_equal(got[0], b.infer(np.stack([photo, after]))[0])    # the full pass itself
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: incremental inference not available") and "disk full" in err[0]


def test_pipeline_labels_same_with_and_without_incremental(model):
    """The app's data path over the sample's first frames: the same labels and probabilities either way."""
    from app.config import LocalizeSettings
    from app.pipeline import Pipeline
    from app.sources import sample_source
    from blocks import load_block

    src = sample_source()
    frames = [src.read() for _ in range(12)]
    src.close()
    runs = []
    for incremental in (True, False):
        b = make_backend(model, "onnx")
        b.incremental = incremental
        b.halves(wait=True)
        pipe = Pipeline(b, [load_block("hog")], b.class_names, LocalizeSettings())
        runs.append([pipe.step(f) for f in frames])
    pasted = 0
    for a, c in zip(*runs):
        assert (a.before.name, a.after.name, a.box) == (c.before.name, c.after.name, c.box)
        assert abs(a.after.prob - c.after.prob) < 1e-5 and abs(a.before.prob - c.before.prob) < 1e-5  # ≤ 8e-7
        pasted += a.block is not None
    assert pasted >= 8            # the comparison covered frames with the block on


def test_one_crop_plan_for_the_app_and_block_training():
    """The app's plan for one box (crop rounded to ROUND) and block training's batched crop_plan (one side for
    all) replace the same feature cells, and each crop holds those cells' windows."""
    window, size = (32, -45, 76), 224
    rng = np.random.default_rng(0)
    for _ in range(200):
        y0, x0 = rng.integers(0, size, 2)
        y1, x1 = rng.integers(y0 + 1, size + 1), rng.integers(x0 + 1, size + 1)
        box = (int(y0), int(y1), int(x0), int(x1))
        side, origins, spans = inc.crop_plan([box], size, window)
        p = inc.plan(box, (size, size), window)
        if p is not None:
            assert p.cells == spans[0]
            lo, hi = inc.windows_span(p.cells[0], p.cells[1], window)
            assert p.crop[0] <= max(0, lo) and p.crop[1] >= min(size, hi)
        (y, x), (j0, j1, i0, i1) = origins[0], spans[0]
        for c0, c1, o in ((j0, j1, y), (i0, i1, x)):
            lo, hi = inc.windows_span(c0, c1, window)
            assert o <= max(0, lo) and o + side >= min(size, hi)
