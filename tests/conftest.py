import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "tests" / "data" / "photos"

# two test workers (pytest-xdist, -n 2) on two cores: one torch thread each; alone: both cores
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


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
def photo_boxes(model, photos):
    """The test photos' CAM boxes and top-1 classes (blocks.placement.cam_boxes), for evaluate_block(boxes=)."""
    from blocks.placement import cam_boxes
    return cam_boxes(model, photos[0])


@pytest.fixture(scope="session")
def hens(model):
    import models
    return models.to_tensor(models.read_image(PHOTOS / "hens.jpg"), model.input_size)


def small_training_folder(tmp_path) -> Path:
    """Nine test photos linked into tmp_path/train: enough for a tiny `blocks make` run."""
    photos = tmp_path / "train"
    photos.mkdir()
    for name in ("pig.jpg", "duck.jpg", "owl.jpg", "kangaroo.jpg", "bison.jpg", "giraffe.jpg", "lemur.jpg",
                 "hedgehog.jpg", "hens.jpg"):
        (photos / name).symlink_to(PHOTOS / name)
    return photos


def decode_frames(path) -> list:
    """Every frame of a video (OpenCV) or an animated GIF/WebP (cv2.imreadanimation)."""
    path = Path(path)
    if path.suffix in (".gif", ".webp"):
        ok, anim = cv2.imreadanimation(str(path))
        assert ok, f"{path} does not decode"
        return list(anim.frames)
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_main(main, *argv) -> Ran:
    """Run an entry point's `main(argv)` in this process, as its command line would: (exit code, stdout,
    stderr). No new interpreter importing torch and loading the model again; tests of what a real process
    prints (tracebacks, library noise, signals) still start one."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:                 # argparse: --help, bad arguments
            code = exc.code if isinstance(exc.code, int) else 1
    return Ran(code or 0, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_main


def script(name: str):
    """scripts/NAME.py as a module (its `main`), for `cli`."""
    import importlib
    return importlib.import_module(f"scripts.{name}")
