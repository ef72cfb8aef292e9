import numpy as np
import pytest
import torch

from app.localize import BoxSmoother, sliding_box, sliding_windows, to_pixels
from conftest import PHOTOS
from models import read_image, to_tensor
from models.cam import cam_box, cam_map


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def test_cam_box_finds_a_planted_peak():
    fc = np.zeros((1000, 4), np.float32)
    fc[5, 2] = 1.0
    fmap = np.zeros((4, 7, 7), np.float32)
    fmap[2, 1:3, 4:6] = 1.0        # rows 1-2, cols 4-5 of 7
    box = cam_box(fmap, fc, 5, threshold=0.5)
    assert _iou(box, (4 / 7, 1 / 7, 2 / 7, 2 / 7)) > 0.5
    assert cam_box(np.zeros((4, 7, 7), np.float32), fc, 5) is None


def test_mass_aim_centres_the_box_on_where_the_evidence_is_densest():
    """aim "mass": the region's box, same size, moved onto its activation-weighted centre (a block put there
    hides the most of the class's evidence); aim "box" is the plain box."""
    fc = np.zeros((1000, 4), np.float32)
    fc[5, 2] = 1.0
    fmap = np.zeros((4, 7, 7), np.float32)
    ramp = np.arange(4)
    fmap[2, 1:5, 1:5] = 1.0 - 0.1 * (ramp[:, None] + ramp[None, :])    # peak 1.0 at the top-left cell
    box = cam_box(fmap, fc, 5)
    assert cam_box(fmap, fc, 5, aim="box") == box
    mass = cam_box(fmap, fc, 5, aim="mass")
    assert mass[2:] == box[2:]
    centre = np.add(box[:2], np.divide(box[2:], 2))
    peak = np.array([1.5 / 7, 1.5 / 7])
    moved = np.add(mass[:2], np.divide(mass[2:], 2))
    assert np.all(moved < centre - 0.02) and np.all(moved > peak)


def test_cam_keeps_the_strongest_of_two_regions():
    fc = np.ones((1000, 1), np.float32)
    fmap = np.zeros((1, 7, 7), np.float32)
    fmap[0, 0, 0] = 0.8
    fmap[0, 4:7, 4:7] = 1.0
    box = cam_box(fmap, fc, 0, threshold=0.5)
    assert box[0] > 0.4 and box[1] > 0.4


# (x, y, w, h) of the animal in each photo, as fractions of width and height, marked by eye
ANIMALS = {"hens.jpg": (0.0, 0.1, 1.0, 0.8), "panda.jpg": (0.1, 0.05, 0.8, 0.85), "pig.jpg": (0.12, 0.22, 0.52, 0.62),
           "duck.jpg": (0.1, 0.2, 0.72, 0.65), "kangaroo.jpg": (0.15, 0.0, 0.6, 0.9)}


@pytest.mark.parametrize("name", sorted(ANIMALS))
def test_cam_box_overlaps_the_animal_on_real_photos(model, name):
    x = to_tensor(read_image(PHOTOS / name), model.input_size)[None]
    with torch.no_grad():
        logits, fmap = model.features(x)
    cls = int(logits.argmax())
    box = cam_box(fmap[0].numpy(), model.fc_weight.numpy(), cls)
    ax, ay, aw, ah = ANIMALS[name]
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    assert ax <= cx <= ax + aw and ay <= cy <= ay + ah          # the box's centre is on the animal
    assert _iou(box, ANIMALS[name]) > 0.15


def test_cam_map_is_normalised():
    cam = cam_map(np.random.rand(8, 7, 7).astype(np.float32), np.random.randn(1000, 8).astype(np.float32), 3)
    assert cam.min() >= 0 and (cam.max() == 0 or abs(cam.max() - 1) < 1e-6)


def test_sliding_window_picks_the_most_confident_crop():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[60:95, 60:95] = 255                 # the "animal" is bottom-right

    def classify(crops):
        probs = np.zeros((len(crops), 1000))
        probs[:, 1] = [c.mean() / 255 for c in crops]
        return probs
    box = sliding_box(classify, frame, 1, sliding_windows((0.4,), 0.5))
    assert box[0] >= 0.5 and box[1] >= 0.5


def test_smoother_smooths_holds_and_lets_go():
    s = BoxSmoother(smoothing=0.5, hold=2)
    assert s.update((0, 0, 0.2, 0.2)) == (0, 0, 0.2, 0.2)
    b = s.update((0.2, 0.2, 0.2, 0.2))
    assert b == pytest.approx((0.1, 0.1, 0.2, 0.2))
    assert s.update(None) == pytest.approx((0.1, 0.1, 0.2, 0.2))     # held
    assert s.update(None) is not None
    assert s.update(None) is None                                     # let go after `hold` misses
    assert to_pixels((0.5, 0.25, 0.1, 0.5), 640, 480) == [320, 120, 64, 240]
