import pytest
import torch

import models
from models import UserError


def test_classifier_contract(model, hens):
    assert not model.training
    assert model.input_size == 224 and len(model.class_names) == 1000
    with torch.no_grad():
        logits = model(hens[None])
    assert logits.shape == (1, 1000)
    probs = logits.softmax(1)[0]
    assert int(probs.argmax()) == 8 and model.class_names[8] == "hen"   # the hens photo is a hen
    assert float(probs[8]) > 0.5


def test_pixel_space_normalisation_is_inside(model, hens):
    # feeding an un-normalised image must still classify: the module normalises itself
    with torch.no_grad():
        logits, fmap = model.features(hens[None])
    assert fmap.shape[:2] == (1, 1280) and fmap.shape[2] == fmap.shape[3]
    assert torch.allclose(logits, model(hens[None]), atol=1e-5)


@pytest.mark.parametrize("name, index", [("hog", 341), ("Hog", 341), ("pig", 341), ("giant panda", 388),
                                         ("giant_panda", 388), (341, 341), ("8", 8), ("cock", 7), ("hen", 8),
                                         ("crane", 134)])
def test_class_lookup(name, index):
    assert models.class_index(name) == index


@pytest.mark.parametrize("bad", ["hogg", "", "unicorn", 1000, -1])
def test_unknown_class_is_a_clear_error(bad):
    with pytest.raises(UserError) as err:
        models.class_index(bad)
    assert "\n" not in str(err.value)
    if bad == "hogg":
        assert "'hog'" in str(err.value)


def test_animals_and_chickens():
    assert models.CHICKENS == (7, 8)
    assert all(models.is_animal(i) for i in models.CHICKENS)
    assert models.is_animal(397) and not models.is_animal(398)
    assert models.slug(388) == "giant_panda"


def test_registry_and_devices():
    assert "efficientnet_lite0" in models.list_models()
    with pytest.raises(UserError, match="unknown model"):
        models.load_classifier("resnet9000")
    assert models.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            models.resolve_device("cuda")
    with pytest.raises(UserError):
        models.resolve_device("tpu")


def test_bad_weights_files(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="corrupt.pth"):
        models.load_classifier(weights=str(corrupt))
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(UserError, match="does not fit"):
        models.load_classifier(weights=str(wrong))
    with pytest.raises(UserError, match="does not exist"):
        models.load_classifier(weights=str(tmp_path / "missing.pth"))


def test_weights_load_safely(tmp_path):
    # a pickle that would run code is refused by weights_only loading
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    evil = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(UserError):
        models.load_classifier(weights=str(evil))
