"""scripts/closeup_photos.py: the training animals cropped to their CAM box, from the full-size file."""
import cv2
import numpy as np
import pytest

from conftest import PHOTOS, script

closeup_photos = script("closeup_photos")
closeups, square_crop = closeup_photos.main, closeup_photos.square_crop


@pytest.mark.parametrize("box, factor, want", [
    ((0.4, 0.4, 0.2, 0.1), 1.0, (320, 100, 160)),      # the box's longer side in pixels (0.2 × 800), centred
    ((0.0, 0.0, 0.1, 0.1), 2.0, (0, 0, 160)),          # moved inside at a corner
    ((0.1, 0.1, 0.9, 0.9), 1.5, (240, 0, 400)),        # never larger than the image's short side
])
def test_square_crop_stays_inside(box, factor, want):
    img = np.zeros((400, 800, 3), np.uint8)
    assert square_crop(img, box, factor) == want


def test_closeups_are_sharp_crops_of_the_animal(tmp_path, cli):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("hens.jpg", "kangaroo.jpg", "fruits.jpg"):       # fruits: not an animal, no close-up
        (src / name).symlink_to(PHOTOS / name)
    out = tmp_path / "out"
    run = cli(closeups, "--photos", str(src), "--out", str(out), "--scales", "1.0,1.4", "--size", "160")
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names and not any(n.startswith("fruits") for n in names)
    assert {n.rsplit("_c", 1)[0] for n in names} <= {"hens", "kangaroo"}
    for p in out.iterdir():
        crop = cv2.imread(str(p))
        assert crop.shape == (160, 160, 3)
    tight, loose = (cv2.imread(str(out / f"kangaroo_c{f}.jpg")) for f in ("1", "1.4"))
    assert tight is not None and loose is not None and np.abs(tight.astype(int) - loose).mean() > 5


def test_bad_scales_are_one_line(tmp_path, cli):
    run = cli(closeups, "--photos", str(PHOTOS), "--out", str(tmp_path), "--scales", "big")
    assert run.returncode == 2 and run.stderr.startswith("error:") and "Traceback" not in run.stderr
