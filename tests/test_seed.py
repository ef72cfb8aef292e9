import torch

from blocks.seed import DARK_GREY, eps_sweep, seed_block


def test_sweep_covers_the_negative_range_and_returns_its_argmax(model):
    sb = seed_block(model, 388, side=50, lower_limit=-0.4, n=40)
    assert sb.block.shape == (3, 50, 50)
    assert len(sb.eps_values) == 40 and abs(float(sb.eps_values.min()) + 0.4) < 1e-6 and float(sb.eps_values.max()) < 0
    assert sb.eps == float(sb.eps_values[int(sb.target_probs.argmax())])
    # the block really has that probability when classified (upsampled to the input, as in the sweep)
    with torch.no_grad():
        x = torch.nn.functional.interpolate(sb.block[None], size=224, mode="bilinear", align_corners=False)
        p = model(x).softmax(1)[0, 388]
    assert abs(float(p) - float(sb.target_probs.max())) < 1e-3


def test_one_negative_step_beats_the_grey_start(model):
    start = torch.full((3, 50, 50), DARK_GREY)
    eps_values, probs, _ = eps_sweep(model, start, 341, -0.3, 30)
    with torch.no_grad():
        grey = model(torch.full((1, 3, 224, 224), DARK_GREY)).softmax(1)[0, 341]
    assert float(probs.max()) > float(grey)
