"""ONNX export, its cache beside the weights, and the inference backends (ONNX Runtime vs torch).

Tolerance: on the real photos, |logits_onnx − logits_torch| ≤ 1e-3 and |fmap_onnx − fmap_torch| ≤ 1e-3
(absolute; |logits| reach ~12.5 here and fmap is ReLU6 in [0, 6]); measured: 1e-5 (logits), 4e-5 (fmap).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models import onnx as monnx
from models.backend import OnnxBackend, TorchBackend, make_backend

PHOTOS = Path(__file__).parent / "data" / "photos"
ATOL = 1e-3
NAME_RE = re.compile(r"efficientnet_lite0-[0-9a-f]{12}\.onnx")


def _default_weights() -> Path:
    return Path(models.efficientnet._weights_file(0))


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    dst = folder / "lite0.pth"
    shutil.copyfile(_default_weights(), dst)
    return dst


@pytest.fixture(scope="module")
def lite0_model(weights):
    return models.load_classifier("efficientnet_lite0", "cpu", weights=str(weights))


@pytest.fixture(scope="module")
def onnx_path(lite0_model) -> Path:
    return monnx.cached_onnx(lite0_model)          # the one real export most tests share


@pytest.fixture(scope="module")
def photo_array() -> np.ndarray:
    x, files = models.load_photos(PHOTOS, 224)
    assert len(files) >= 2
    return x.numpy()


def _fake_export(good: Path, calls: list):
    """Stand-in for export_onnx that copies a known-good export (keeps the suite fast), counting calls."""
    def fake(_model, path, **kw):
        calls.append(Path(path))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_suffix(".tmp")
        shutil.copyfile(good, tmp)
        os.replace(tmp, path)
        return Path(path)
    return fake


def test_cache_file_beside_weights(lite0_model, weights, onnx_path):
    assert onnx_path.parent == weights.parent
    assert NAME_RE.fullmatch(onnx_path.name), onnx_path.name
    assert onnx_path.is_file()
    assert not [p for p in weights.parent.iterdir() if p.name.endswith(".tmp")]   # no temp left behind


def test_onnx_matches_torch_on_photos(lite0_model, onnx_path, photo_array):
    onnx_b, torch_b = make_backend(lite0_model, "onnx"), make_backend(lite0_model, "torch")
    assert isinstance(onnx_b, OnnxBackend) and isinstance(torch_b, TorchBackend)
    want_logits, want_fmap = torch_b.infer(photo_array)
    assert want_logits.shape == (len(photo_array), 1000) and want_fmap.shape == (len(photo_array), 1280, 7, 7)
    for batch in (1, 2, 3):                   # dynamic batch axis
        got_l, got_f = [], []
        for i in range(0, len(photo_array), batch):
            logits, fmap = onnx_b.infer(photo_array[i:i + batch])
            assert logits.dtype == np.float32 and fmap.dtype == np.float32
            assert logits.shape[0] == fmap.shape[0] == len(photo_array[i:i + batch])
            got_l.append(logits)
            got_f.append(fmap)
        got_l, got_f = np.concatenate(got_l), np.concatenate(got_f)
        np.testing.assert_array_equal(got_l.argmax(1), want_logits.argmax(1))
        dl, df = np.abs(got_l - want_logits).max(), np.abs(got_f - want_fmap).max()
        print(f"batch {batch}: max |Δlogits| = {dl:.2e}, max |Δfmap| = {df:.2e}")
        assert dl <= ATOL and df <= ATOL


def test_onnx_output_shapes_declared(onnx_path):
    sess = monnx._ort_session(onnx_path, 1)
    assert [i.name for i in sess.get_inputs()] == ["images"]
    assert sess.get_inputs()[0].shape == ["batch", 3, 224, 224]
    assert [(o.name, o.shape) for o in sess.get_outputs()] == [("logits", ["batch", 1000]),
                                                               ("fmap", ["batch", 1280, 7, 7])]


def test_cache_reused(lite0_model, onnx_path, monkeypatch):
    mtime = onnx_path.stat().st_mtime_ns

    def no_export(*a, **k):
        raise AssertionError("re-exported although the cache is valid")
    monkeypatch.setattr(monnx, "export_onnx", no_export)
    assert monnx.cached_onnx(lite0_model) == onnx_path
    assert make_backend(lite0_model).path == onnx_path
    assert onnx_path.stat().st_mtime_ns == mtime


def test_rebuilt_when_weights_change(tmp_path, onnx_path, weights, photo_array):
    w = tmp_path / "lite0.pth"
    shutil.copyfile(weights, w)
    shutil.copyfile(onnx_path, tmp_path / onnx_path.name)     # same content -> same key -> reused
    m1 = models.load_classifier("efficientnet_lite0", "cpu", weights=str(w))
    assert monnx.cached_onnx(m1) == tmp_path / onnx_path.name

    state = torch.load(w, map_location="cpu", weights_only=True)
    state["_fc.bias"][7] += 5.0                                 # class 7's logit goes up by exactly 5
    torch.save(state, w)
    m2 = models.load_classifier("efficientnet_lite0", "cpu", weights=str(w))
    new = monnx.cached_onnx(m2)
    assert new.parent == tmp_path and NAME_RE.fullmatch(new.name) and new.name != onnx_path.name
    before = make_backend(m1, "torch").infer(photo_array[:2])[0]
    after = make_backend(m2, "onnx").infer(photo_array[:2])[0]
    np.testing.assert_allclose(after[:, 7] - before[:, 7], 5.0, atol=ATOL)
    np.testing.assert_allclose(np.delete(after, 7, 1), np.delete(before, 7, 1), atol=ATOL)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_cache_rebuilt(tmp_path, onnx_path, weights, photo_array, monkeypatch, damage):
    w = tmp_path / "lite0.pth"
    shutil.copyfile(weights, w)
    m = models.load_classifier("efficientnet_lite0", "cpu", weights=str(w))
    bad = tmp_path / onnx_path.name
    data = onnx_path.read_bytes()
    bad.write_bytes({"garbage": os.urandom(4096), "truncated": data[: len(data) // 2], "empty": b""}[damage])
    calls = []
    monkeypatch.setattr(monnx, "export_onnx", _fake_export(onnx_path, calls))
    backend = make_backend(m, "auto")
    assert backend.name == "onnx" and backend.path == bad and calls == [bad]
    assert monnx._loads(bad)
    assert backend.infer(photo_array[:1])[0].argmax() == make_backend(m, "torch").infer(photo_array[:1])[0].argmax()


def test_fallback_cache_dir_when_weights_folder_read_only(onnx_path, weights, tmp_path, monkeypatch):
    w = tmp_path / "ro" / "lite0.pth"
    w.parent.mkdir()
    shutil.copyfile(weights, w)
    m = models.load_classifier("efficientnet_lite0", "cpu", weights=str(w))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    real = monnx._writable
    monkeypatch.setattr(monnx, "_writable", lambda folder: folder != w.parent and real(folder))
    calls = []
    monkeypatch.setattr(monnx, "export_onnx", _fake_export(onnx_path, calls))
    path = monnx.cached_onnx(m)
    assert path == tmp_path / "cache" / "chicken-saviour" / onnx_path.name and calls == [path]
    assert monnx.cached_onnx(m) == path and len(calls) == 1     # found there next time
    assert not list(w.parent.glob("*.onnx"))


def test_auto_picks_onnx_on_cpu(lite0_model, onnx_path):
    b = make_backend(lite0_model, "auto", threads=1)
    assert (b.name, b.device, b.input_size, b.threads) == ("onnx", "cpu", 224, 1)
    assert b.fc_weight.shape == (1000, 1280) and b.fc_weight.dtype == np.float32
    np.testing.assert_array_equal(b.fc_weight, lite0_model.fc_weight.detach().numpy())
    t = make_backend(lite0_model, "torch")
    assert (t.name, t.device) == ("torch", "cpu")
    np.testing.assert_array_equal(t.fc_weight, b.fc_weight)


def test_onnxruntime_missing(lite0_model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)      # import onnxruntime -> ImportError
    with pytest.raises(models.UserError, match="ONNX backend not available"):
        make_backend(lite0_model, "onnx")
    b = make_backend(lite0_model, "auto")
    assert b.name == "torch"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning:") and "onnxruntime" in err[0]


def test_bad_arguments(lite0_model):
    with pytest.raises(models.UserError, match="unknown backend"):
        make_backend(lite0_model, "tensorrt")
    with pytest.raises(models.UserError, match="threads"):
        make_backend(lite0_model, "onnx", threads=0)
    with pytest.raises(ValueError, match="N×3×224×224"):
        make_backend(lite0_model, "torch").infer(np.zeros((3, 224, 224), np.float32))
