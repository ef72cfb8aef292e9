import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTOS = ROOT / "tests" / "data" / "photos"

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def model():
    import models
    return models.load_classifier("efficientnet_lite0", "cpu")


@pytest.fixture(scope="session")
def photos(model):
    import models
    x, files = models.load_photos(PHOTOS, model.input_size)
    return x, files


@pytest.fixture(scope="session")
def hens(model):
    import models
    return models.to_tensor(models.read_image(PHOTOS / "hens.jpg"), model.input_size)
