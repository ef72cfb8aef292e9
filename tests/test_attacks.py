import pytest
import torch
import torch.nn.functional as F

from blocks.attacks import ATTACKS, fgsm

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


def test_fgsm_is_batched_and_functional(model, photos):
    x = photos[0][:3]
    labels = torch.tensor([8, 388, 341])
    out = fgsm(model, x, labels, 2 / 255)
    assert out.shape == x.shape
    # each image gets its own gradient sign: images differ from the originals by exactly eps almost everywhere
    changed = ((out - x).abs() > 1e-4).float().mean()
    assert changed > 0.5
