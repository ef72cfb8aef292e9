"""Training photos: the decoded-photo cache, and `make photos`' split on a fresh clone (no shared folder)."""

import cv2
import numpy as np
import pytest
import torch

import blocks.photos as bp
from conftest import PHOTOS, script
from models import load_photos


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(bp.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(bp, "CACHE_MIN", 1)
    return tmp_path / "cache"


def test_second_load_comes_from_the_cache_and_is_identical(cache, monkeypatch):
    x, files = bp.load_folder(PHOTOS, 224)
    ref, ref_files = load_photos(PHOTOS, 224, recursive=True)
    assert files == ref_files and torch.equal(x, ref)             # exactly models.load_photos' tensors
    assert len(list(cache.glob("*.npy"))) == 1

    def no_decoding(*args):
        raise AssertionError("decoded again")
    monkeypatch.setattr(bp, "decode", no_decoding)
    again, again_files = bp.load_folder(PHOTOS, 224)
    assert again_files == files and torch.equal(again, x)
    y, _, names = bp.training_photos([str(PHOTOS)], None, 224)
    assert torch.equal(y, x) and len(names) == len(files)


def test_a_changed_folder_is_decoded_again(cache, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("hens.jpg", "pig.jpg"):
        (folder / name).write_bytes((PHOTOS / name).read_bytes())
    x, _ = bp.load_folder(folder, 224)
    img = cv2.imread(str(folder / "pig.jpg"))
    cv2.imwrite(str(folder / "pig.jpg"), 255 - img)                  # same name, new content (size, mtime)
    y, _ = bp.load_folder(folder, 224)
    assert torch.equal(y[0], x[0]) and not torch.equal(y[1], x[1])
    assert torch.equal(y, load_photos(folder, 224)[0])
    (folder / "duck.jpg").write_bytes((PHOTOS / "duck.jpg").read_bytes())
    assert len(bp.load_folder(folder, 224)[1]) == 3


def test_small_folders_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(bp.CACHE_ENV, str(tmp_path / "cache"))
    bp.load_folder(PHOTOS, 224)                                      # fewer than CACHE_MIN photos
    assert not (tmp_path / "cache").exists()


def test_loading_shows_progress(cache):
    seen = []

    class Recorder:
        def phase(self, name, done=None, total=None):
            seen.append((name, done, total))
    n = len(load_photos(PHOTOS, 224)[1])
    bp.training_photos([str(PHOTOS)], None, 224, progress=Recorder())
    assert seen[0] == ("loading photos", 0, n) and seen[-1] == ("loading photos", n - 1, n)


def _fake_raw(raw):
    """Two training sources and one held-out source, as scripts/fetch_photos.sh leaves them, plus an empty
    one (a GitHub source the fetch skipped)."""
    rng = np.random.default_rng(0)
    for source, n in (("gcompris", 3), ("opencv_samples", 2), ("pypi_misc", 2), ("imagenet_samples", 0)):
        (raw / source).mkdir(parents=True)
        for i in range(n):
            img = cv2.resize(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8), (320, 240),
                             interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(raw / source / f"{source}_{i}.jpg"), img)


def test_split_photos_works_without_the_shared_folder(tmp_path, cli):
    raw = tmp_path / "raw"
    _fake_raw(raw)
    out = tmp_path / "photos"
    res = cli(script("split_photos").main, "--raw", raw, "--shared", tmp_path / "no_shared", "--checkset", PHOTOS,
              "--out", out)
    assert res.returncode == 0, res.stderr
    assert f"skipped shared_photos: {tmp_path / 'no_shared'} not found (optional)" in res.stdout
    assert "skipped imagenet_samples: no photos" in res.stdout
    assert len(list((out / "train").rglob("*.jpg"))) == 5 and len(list((out / "heldout").rglob("*.jpg"))) == 2
    assert (out / "split.csv").is_file()


def test_cam_boxes_are_cached_too(cache, model, monkeypatch):
    import blocks.train as bt
    x, _ = bp.load_folder(PHOTOS, model.input_size)
    x = x[:6]
    boxes = bt.photo_boxes(model, x, chunk=4)
    assert torch.equal(boxes, bt.photo_boxes(model, x, chunk=4))
    assert len(list(cache.glob("boxes-*.npz"))) == 1

    seen = []
    real = bt.cam_boxes

    def counting(m, p):
        seen.append(len(p))
        return real(m, p)
    monkeypatch.setattr(bt, "cam_boxes", counting)
    assert torch.equal(bt.photo_boxes(model, x, chunk=4), boxes) and seen == []
    assert torch.equal(bt.photo_boxes(model, x[[4, 1, 2]], chunk=4), boxes[[4, 1, 2]]) and seen == []   # a subset
    mixed = bt.photo_boxes(model, torch.cat([x[:2], x[:3].flip(3)]), chunk=4)   # other pixels: other keys
    assert seen == [3] and torch.equal(mixed[:2], boxes[:2])
