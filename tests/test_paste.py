import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blocks.paste import EVAL_RANGES, PasteRanges, extent, fixed_params, paste, sample_params


def _solid(color, side=20):
    return torch.tensor(color, dtype=torch.float32).view(3, 1, 1).expand(3, side, side).clone()


def test_block_lands_where_asked():
    img = torch.zeros(1, 3, 100, 200)
    out = paste(img, _solid([1.0, 0.5, 0.25]), fixed_params((0.25, 0.5), side=0.2))
    # side 0.2 of a 200×100 image: 40 px wide, 20 px tall, centred at (50, 50)
    assert torch.allclose(out[0, :, 50, 50], torch.tensor([1.0, 0.5, 0.25]), atol=1e-4)
    assert torch.allclose(out[0, :, 42, 33], torch.tensor([1.0, 0.5, 0.25]), atol=1e-4)
    assert out[0, :, 50, 120].abs().max() == 0          # far right: untouched
    assert out[0, :, 10, 50].abs().max() == 0           # above the block: untouched
    covered = (out[0, 0] > 0.5).float().sum()
    assert abs(float(covered) - 40 * 20) < 60


def test_paste_is_differentiable_wrt_the_block():
    block = torch.rand(3, 16, 16, requires_grad=True)
    imgs = torch.rand(4, 3, 64, 64)
    params = sample_params(4, 0.05, generator=torch.Generator().manual_seed(0))
    paste(imgs, block, params).sum().backward()
    assert block.grad is not None and block.grad.abs().sum() > 0


def test_random_params_keep_the_block_inside():
    gen = torch.Generator().manual_seed(1)
    params = sample_params(500, 0.05, EVAL_RANGES, gen)
    half = extent(params.side, params.angle)
    assert (params.center - half[:, None] >= -1e-6).all() and (params.center + half[:, None] <= 1 + 1e-6).all()
    assert params.angle.abs().max() <= 20 and params.angle.abs().max() > 15
    s0 = math.sqrt(0.05)
    assert params.side.min() >= 0.85 * s0 - 1e-6 and params.side.max() <= 1.15 * s0 + 1e-6
    assert params.brightness.min() >= 0.8 and params.brightness.max() <= 1.2
    # and really inside: all of the block's area lands in the image (a block hanging over an edge loses some)
    params.brightness = torch.ones(500)
    out = paste(torch.zeros(500, 3, 64, 64), torch.ones(3, 8, 8), params)
    covered = out[:, 0].sum(dim=(1, 2)) / (params.side * 64) ** 2
    assert covered.min() > 0.97 and covered.max() < 1.03


def test_sampling_is_reproducible():
    a = sample_params(8, 0.05, PasteRanges(), torch.Generator().manual_seed(3))
    b = sample_params(8, 0.05, PasteRanges(), torch.Generator().manual_seed(3))
    assert torch.equal(a.center, b.center) and torch.equal(a.angle, b.angle)


def test_brightness_and_rotation():
    img = torch.zeros(1, 3, 64, 64)
    dim = paste(img, _solid([0.5, 0.5, 0.5]), fixed_params((0.5, 0.5), 0.5, brightness=0.8))
    assert torch.allclose(dim[0, :, 32, 32], torch.full((3,), 0.4), atol=1e-4)
    rot = paste(img, _solid([1, 1, 1]), fixed_params((0.5, 0.5), 0.5, angle=45))
    # a square turned 45° reaches further along the axes than the upright one (its corners point there)
    up = paste(img, _solid([1, 1, 1]), fixed_params((0.5, 0.5), 0.5))
    assert rot[0, 0, 32, 10] > 0.5 and up[0, 0, 32, 10] == 0


def test_same_params_same_look_at_any_resolution():
    block = torch.rand(3, 20, 20)
    params = fixed_params((0.4, 0.6), 0.25, angle=10)
    small = paste(torch.zeros(1, 3, 224, 224), block, params)
    big = paste(torch.zeros(1, 3, 480, 640), block, params)
    down = F.interpolate(big, size=(224, 224), mode="area")
    assert (small - down).abs().mean() < 0.02


@pytest.mark.parametrize("center,side,angle,brightness,size", [
    ((0.5, 0.5), 0.22, 0.0, 1.0, (480, 640)),
    ((0.3, 0.6), 0.2, 17.0, 0.85, (480, 640)),
    ((0.05, 0.95), 0.25, -20.0, 1.2, (360, 640)),      # partly outside the frame: clipped, no error
    ((0.9, 0.1), 0.3, 45.0, 1.0, (224, 224)),
])
def test_paste_frame_matches_paste(center, side, angle, brightness, size):
    """The app's OpenCV paste draws the same block at the same place as the training paste."""
    from blocks.paste import paste_frame
    from models.preprocess import to_bgr, to_tensor
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    block = torch.rand(3, 50, 50, generator=torch.Generator().manual_seed(0))
    ref = to_bgr(paste(to_tensor(frame)[None], block, fixed_params(center, side, angle, brightness))[0])
    got = paste_frame(frame, block, center, side, angle, brightness)
    diff = np.abs(ref.astype(int) - got.astype(int))
    assert (ref != frame).any(axis=2).sum() > 0.2 * side * side * size[0] * size[1]   # something was pasted
    assert diff.max() <= 3 and diff.mean() < 0.01
    assert (got != frame).any(axis=2).sum() == pytest.approx((ref != frame).any(axis=2).sum(), rel=0.02)
