import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from blocks import load_block, seed_block, train_block
from blocks.evaluate import evaluate_block
from blocks.train import augment_photos, margin_loss
from conftest import PHOTOS, ROOT


def test_training_raises_the_target_probability(model, photos):
    x = photos[0][:6]
    res = train_block(model, x, 341, area=0.05, steps=12, batch=4, lr=0.05, seed=0, log=lambda m: None,
                      log_every=4)
    assert res.block.shape == (3, 50, 50)
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    init = seed_block(model, 341, 50).block
    after = evaluate_block(model, x, res.block, 341, 0.0498, trials=2, seed=1)
    before = evaluate_block(model, x, init, 341, 0.0498, trials=2, seed=1)
    assert after["mean_target_prob"] > before["mean_target_prob"]


def test_margin_loss_is_the_lead_still_missing():
    logits = torch.tensor([[5.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 0, 2])
    per = [max(0.0, 1.0 - 5.0 + 2.0), 3.0 - 1.0 + 2.0, 0.0 - 0.0 + 2.0]     # target leads by 4, trails, ties
    assert margin_loss(logits, labels, 2.0).item() == pytest.approx(sum(per) / 3)
    g = logits.clone().requires_grad_(True)
    margin_loss(g, labels, 2.0).backward()
    assert g.grad[0].abs().sum() == 0                   # already won by more than kappa: no push
    assert g.grad[1, 0] < 0 and g.grad[1, 1] > 0        # descent raises the target, lowers the rival


def test_margin_training_raises_the_target_probability(model, photos):
    x = photos[0][:6]
    res = train_block(model, x, 341, area=0.05, steps=12, batch=4, lr=0.05, seed=0, log=lambda m: None,
                      log_every=4, loss="margin")
    init = seed_block(model, 341, 50).block
    after = evaluate_block(model, x, res.block, 341, 0.0498, trials=2, seed=1)
    before = evaluate_block(model, x, init, 341, 0.0498, trials=2, seed=1)
    assert after["mean_target_prob"] > before["mean_target_prob"]
    with pytest.raises(ValueError, match="loss"):
        train_block(model, x, 341, area=0.05, steps=1, batch=2, log=lambda m: None, loss="hinge")


def test_light_augmentation_keeps_the_whole_photo(photos):
    """mix=0, min_crop=1: every output is its own photo (or its mirror) up to colour: correlation ~1."""
    x = photos[0][:6]
    y = augment_photos(x, torch.Generator().manual_seed(3), mix=0.0, min_crop=1.0)
    for a, b in zip(x.mean(1), y.mean(1)):
        best = max(torch.corrcoef(torch.stack([a.flatten(), c.flatten()]))[0, 1] for c in (b, b.flip(-1)))
        assert best > 0.97


def test_training_augment_choices(model, photos):
    x = photos[0][:4]
    runs = {a: train_block(model, x, 341, area=0.02, steps=2, batch=2, seed=5, log=lambda m: None, augment=a).block
            for a in ("full", "light", "none")}
    assert not torch.equal(runs["full"], runs["none"]) and not torch.equal(runs["light"], runs["none"])
    with pytest.raises(ValueError, match="augment"):
        train_block(model, x, 341, area=0.02, steps=1, batch=2, log=lambda m: None, augment="heavy")


def test_training_is_reproducible(model, photos):
    x = photos[0][:4]
    a = train_block(model, x, 388, area=0.02, steps=2, batch=2, seed=7, log=lambda m: None)
    b = train_block(model, x, 388, area=0.02, steps=2, batch=2, seed=7, log=lambda m: None)
    assert torch.equal(a.block, b.block)


def test_photo_augmentation_keeps_shape_and_range():
    x = torch.rand(5, 3, 32, 32)
    y = augment_photos(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1 and not torch.equal(x, y)


@pytest.mark.parametrize("name", ["hog", "giant_panda"])
def test_shipped_blocks_beat_the_seed_block_on_unseen_photos(model, photos, name):
    block = load_block(name)
    info = block.info
    assert not {Path(p).name for p in info.photos} & {p.name for p in photos[1]}, "test photos must not be training photos"
    ours = evaluate_block(model, photos[0], block.image, info.target, info.area, trials=4, seed=0)
    seed = evaluate_block(model, photos[0], seed_block(model, info.target, info.side).block, info.target,
                          info.area, trials=4, seed=0)
    assert ours["targeted_success"] > seed["targeted_success"] + 0.3
    assert ours["mean_target_prob"] > seed["mean_target_prob"]
    assert ours["untargeted_success"] >= seed["untargeted_success"]


def test_eval_script_json():
    out = subprocess.run([sys.executable, "scripts/eval_blocks.py", "--photos", str(PHOTOS), "--block",
                          "blocks/library/hog.png", "--trials", "1", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    for key in ("targeted_success", "untargeted_success", "mean_target_prob", "n_photos", "n_trials", "area"):
        assert key in res and key in res["seed_block"]
    assert res["n_photos"] == 16 and res["n_trials"] == 16 and res["area"] <= 0.05
    per = res["per_photo"]
    assert set(per) == {p.name for p in PHOTOS.iterdir() if p.suffix == ".jpg"}
    assert sum(per.values()) / len(per) == pytest.approx(res["targeted_success"])


def test_eval_script_bad_block_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "scripts/eval_blocks.py", "--photos", str(PHOTOS), "--block",
                          str(tmp_path / "none.png")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


def test_holdout_drops_renamed_copies_of_test_photos(tmp_path):
    """Training folders gathered from many packages may hold a test photo under another name: it is held out."""
    import cv2
    from blocks.train import training_photos
    sub = tmp_path / "pkg" / "images"
    sub.mkdir(parents=True)
    hens = cv2.imread(str(PHOTOS / "hens.jpg"))
    cv2.imwrite(str(sub / "chickens_copy.jpg"), cv2.resize(hens, (300, 200)), [cv2.IMWRITE_JPEG_QUALITY, 70])
    cv2.imwrite(str(sub / "kangaroo.png"), cv2.imread(str(PHOTOS / "kangaroo.jpg")))          # same name
    other = np.zeros((240, 320, 3), np.uint8)
    other[:, :, 1] = np.linspace(0, 255, 320)[None]                                          # a green ramp
    cv2.rectangle(other, (40, 60), (140, 200), (200, 40, 40), -1)
    cv2.imwrite(str(tmp_path / "other.jpg"), other)
    x, paths, files = training_photos([str(tmp_path)], str(PHOTOS), 224)
    top = tmp_path.name
    assert files == [f"{top}/other.jpg"] and x.shape == (1, 3, 224, 224) and paths == [tmp_path / "other.jpg"]
    x, _, files = training_photos([str(tmp_path)], None, 224)
    assert sorted(files) == [f"{top}/other.jpg", f"{top}/pkg/images/chickens_copy.jpg", f"{top}/pkg/images/kangaroo.png"]


def test_pick_animal_photos_links_the_clear_animals(tmp_path):
    out = tmp_path / "animals"
    res = subprocess.run([sys.executable, "scripts/pick_animal_photos.py", "--photos", str(PHOTOS), "--min-prob",
                          "0.5", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    kept = sorted(p.name for p in out.iterdir())
    assert "photos__hens.jpg" in kept and "photos__fruits.jpg" not in kept
    assert all((out / k).resolve().parent == PHOTOS.resolve() for k in kept)
    stricter = subprocess.run([sys.executable, "scripts/pick_animal_photos.py", "--photos", str(PHOTOS),
                               "--min-prob", "0.99", "--out", str(tmp_path / "strict")], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    assert stricter.returncode == 0 and len(list((tmp_path / "strict").iterdir())) < len(kept)
    bad = subprocess.run([sys.executable, "scripts/pick_animal_photos.py", "--photos", str(tmp_path / "none"),
                          "--out", str(tmp_path / "x")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.splitlines()) == 1
