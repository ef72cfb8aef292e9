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


def _every_attack(model):
    """One of each attack in blocks.attacks, built with its own settings: every one is an `Attack`."""
    from blocks.attacks import EOTPatch
    block = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))
    return [FGSM(model, 2 / 255), PGD(model, eps=2 / 255, alpha=1 / 255, steps=2), EOTPatch(model, TARGET, block)]


def test_every_attack_is_called_the_same_way(model, hens):
    """attack(images, labels) -> images in [0,1] of the same shape, for every attack (labels a tensor or an
    int); FGSM, PGD and EOTPatch alike go through the common base's call."""
    from blocks.attacks import Attack
    x = torch.stack([hens, hens.flip(-1)])
    for attack in _every_attack(model):
        assert isinstance(attack, Attack) and type(attack).__call__ is Attack.__call__
        for labels in (torch.tensor([8, 8]), 8):
            out = attack(x, labels)
            assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1 and not out.requires_grad
            assert (out - x).abs().max() > 0


def test_eot_patch_pastes_its_block_at_given_or_drawn_placements(model, hens):
    """EOTPatch's call pastes the current block: at `params=` when given (the paste itself), else at random
    placements of the block at its own pixel size (`at_own_size`)."""
    from blocks.attacks import EOTPatch
    from blocks.paste import paste, sample_params
    x = torch.stack([hens, hens])
    block = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))
    attack = EOTPatch(model, TARGET, block)
    params = sample_params(2, 0.05, generator=torch.Generator().manual_seed(1))
    assert torch.equal(attack(x, TARGET, params=params), paste(x, block, params).clamp(0, 1))
    torch.manual_seed(2)
    drawn = attack(x, TARGET)
    changed = ((drawn - x).abs().sum(1) > 0).float().mean((1, 2))          # share of pixels the block covers
    assert ((changed > 0.5 * (40 / 224) ** 2) & (changed < 2 * (40 / 224) ** 2)).all()
