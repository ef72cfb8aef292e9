import pytest
import torch
import torch.nn.functional as F

from blocks.attacks import ATTACKS, FGSM, PGD

TARGET = 341  # hog


def _attack(name, model, eps):
    cls = ATTACKS[name]
    return cls(model, eps=eps) if name == "fgsm" else cls(model, eps=eps, alpha=abs(eps) / 2, steps=3)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_positive_eps_pushes_away_from_the_true_class(name, model, hens):
    x = hens[None]
    y = torch.tensor([8])
    adv = _attack(name, model, 4 / 255)(x, y)
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1
    assert (adv - x).abs().max() <= 4 / 255 + 1e-6
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y) + 0.5


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_negative_eps_pulls_toward_the_target(name, model, hens):
    x = hens[None]
    adv = _attack(name, model, -4 / 255)(x, TARGET)
    with torch.no_grad():
        before = model(x).softmax(1)[0, TARGET]
        after = model(adv).softmax(1)[0, TARGET]
    assert after > before * 5


def test_fgsm_is_batched(model, photos):
    x = photos[0][:3]
    labels = torch.tensor([8, 388, 341])
    out = FGSM(model, 2 / 255)(x, labels)
    assert out.shape == x.shape
    # each image gets its own gradient sign: images differ from the originals by exactly eps almost everywhere
    changed = ((out - x).abs() > 1e-4).float().mean()
    assert changed > 0.5
    one = FGSM(model, 2 / 255)(x[1:2], 388)
    assert torch.allclose(out[1:2], one, atol=1e-6)


def test_fgsm_sweep_is_fgsm_at_each_eps(model, hens):
    """The seed's eps sweep takes the step at many eps from one gradient: the same images as FGSM at each."""
    x = hens[None]
    eps_values = torch.tensor([-0.2, -0.05, -4 / 255, 3 / 255])
    swept = FGSM(model).sweep(x, TARGET, eps_values)
    assert swept.shape == (4, *x.shape)
    for eps, got in zip(eps_values.tolist(), swept):
        assert torch.allclose(got, FGSM(model, eps)(x, TARGET), atol=1e-6)


def test_pgd_is_projected_fgsm_steps(model, hens):
    """One PGD step of alpha = eps is one FGSM step; more steps stay within eps of the image."""
    x = hens[None]
    assert torch.allclose(PGD(model, eps=-4 / 255, alpha=4 / 255, steps=1)(x, TARGET),
                          FGSM(model, -4 / 255)(x, TARGET), atol=1e-6)
    adv = PGD(model, eps=-2 / 255, alpha=1.5 / 255, steps=3)(x, TARGET)
    assert (adv - x).abs().max() <= 2 / 255 + 1e-6
