"""Tests for blocks.physical: a printed block seen by a camera, in simulation."""
import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from blocks import load_block
from blocks.eval_physical import main as eval_physical
from blocks.paste import paste, sample_params
from blocks.physical import camera, paste_physical, physical, printed, sample_physical
from conftest import PHOTOS


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def hog():
    return load_block("hog").image


def _only(n=1, **changes):
    """Parameters with every effect off except `changes`."""
    return dataclasses.replace(sample_physical(n, 0.0, _gen()), **{k: torch.as_tensor(v) for k, v in changes.items()})


def test_deterministic_given_the_generator(hog):
    x = hog.unsqueeze(0).repeat(3, 1, 1, 1)
    a, b = physical(x, _gen(5)), physical(x, _gen(5))
    assert torch.equal(a, b)
    assert (physical(x, _gen(6)) - a).abs().mean() > 0.01
    where = sample_params(3, 0.05, generator=_gen(1))
    photos = torch.rand(3, 3, 64, 64, generator=_gen(2))
    p = sample_physical(3, 1.0, _gen(7))
    assert torch.equal(paste_physical(photos, hog, where, p), paste_physical(photos, hog, where, p))


def test_strength_zero_is_the_identity(hog):
    x = torch.rand(2, 3, 40, 56, generator=_gen(3))
    assert (physical(x, _gen(1), strength=0.0) - x).abs().max() < 1e-5
    photos = torch.rand(4, 3, 96, 96, generator=_gen(4))
    where = sample_params(4, 0.05, generator=_gen(5))
    same = paste_physical(photos, hog, where, sample_physical(4, 0.0, _gen(6)))
    assert (same - paste(photos, hog, where)).abs().max() < 1e-4   # float rounding (the sheet's canvas is wider)
    # and strength scales the effect
    diffs = [(physical(x, _gen(1), s) - x).abs().mean() for s in (0.25, 0.5, 1.0)]
    assert 0 < diffs[0] < diffs[1] < diffs[2]


def test_differentiable_wrt_block_and_photos(hog):
    block = hog.clone().requires_grad_(True)
    photos = torch.rand(3, 3, 96, 96, generator=_gen(8)).requires_grad_(True)
    where = sample_params(3, 0.1, generator=_gen(9))
    out = paste_physical(photos, block, where, sample_physical(3, 1.0, _gen(10)))
    (out * torch.rand(out.shape, generator=_gen(11))).sum().backward()
    for t in (block, photos):
        assert torch.isfinite(t.grad).all() and (t.grad != 0).float().mean() > 0.5


def test_print_lifts_blacks_compresses_colour_and_tilts(hog):
    p = sample_physical(8, 1.0, _gen(12))
    sheet, alpha = printed(torch.zeros(3, 20, 20), p)
    covered = alpha > 0.99
    assert sheet[covered.expand_as(sheet)].min() > 0.02        # black ink is not black to the camera
    sheet, alpha = printed(hog, p)
    sat = lambda x: (x.amax(-3) - x.amin(-3)).mean()            # noqa: E731
    assert sat(sheet * alpha) < 0.8 * sat(hog)
    mid = hog.shape[-1] // 2
    assert alpha[:, :, mid, mid].min() > 0.99                  # the middle of the sheet is always seen
    assert (alpha < 0.5).float().mean() > 0.02                 # the tilted sheet leaves corners to the scene
    _, alpha = printed(hog, p, margin=mid // 3)                 # with room around it, it keeps its projected size
    area = alpha.sum((1, 2, 3)) / hog.shape[-1] ** 2
    assert 0.85 < area.mean() < 1.0 and area.min() > 0.75      # foreshortened by cos(tilt), no more (measured 0.95)


def test_camera_jpeg_is_close_to_a_real_jpeg():
    img = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (224, 224), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(np.ascontiguousarray(img[..., ::-1])).permute(2, 0, 1)[None].float() / 255
    real = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], 1)[..., ::-1].astype(float)
    sim = camera(x, _only(jpeg=[0.5]))[0].permute(1, 2, 0).numpy() * 255          # quality 75: 0.5 × quality 50
    assert np.abs(sim - real).mean() < 0.6 * np.abs(img[..., ::-1] - real).mean()  # measured 2.6 vs 4.8


def test_camera_blur_and_noise():
    x = torch.rand(1, 3, 64, 64, generator=_gen(13)) * 0.5 + 0.25
    blurred = camera(x, _only(blur=[1.0]))
    assert blurred.diff(dim=-1).abs().mean() < 0.5 * x.diff(dim=-1).abs().mean()
    assert (blurred.mean() - x.mean()).abs() < 1e-3
    noisy = camera(x, _only(noise=[0.02]))
    assert abs(float((noisy - x).std()) - 0.02) < 0.002


def test_eval_physical_script_reports_each_setting(cli):
    """`python -m blocks eval physical` runs and reports targeted success with and without the physical transform."""
    out = cli(eval_physical, "--block", "hog", "--trials", "1", "--strength", "1", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["setting"]: r for r in json.loads(out.stdout)}
    assert set(rows) == {"no physical", "physical 1"}
    assert all(0 <= r["targeted"] <= 1 and 0 <= r["p_target"] <= 1 for r in rows.values())
