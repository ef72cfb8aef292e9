"""scripts/make_figures.py's area curve: every library block and the seed's one-step block, at each area and
placement, as blocks.evaluate.evaluate_block judges them; the PNG has both placements' panels."""
import functools
import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import PHOTOS, script

AREAS = (0.03, 0.1)
pytestmark = pytest.mark.xdist_group("figures")     # one worker computes the module's curve


def load_script():
    return script("make_figures")


@pytest.fixture(scope="session")   # session: not torn down when another file's test runs between
def curve(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("hens.jpg", "duck.jpg"):
        shutil.copy(PHOTOS / name, folder / name)
    out = tmp_path_factory.mktemp("figures")
    figures = load_script()
    with pytest.MonkeyPatch.context() as mp:         # the seed's eps sweep at 10 points (50 in the figure)
        mp.setattr(figures, "seed_block", functools.partial(figures.seed_block, n=10))
        res = figures.area_curve_figure(model, folder, out, AREAS, trials=2, seed=0, names=["hog", "giant_panda"])
    return res, folder, out


def test_every_block_given_placement_and_area_is_judged(curve):
    from blocks.evaluate import PLACEMENTS
    res, _, out = curve
    labels = {r["block"] for r in res["rows"]}
    assert labels == {"hog", "giant_panda", "seed -> hog", "seed -> giant panda"}
    for label in labels:
        for placement in PLACEMENTS:
            rows = [r for r in res["rows"] if r["block"] == label and r["placement"] == placement]
            assert [r["area"] for r in rows] == list(AREAS)
            assert all(0.0 <= r["targeted_success"] <= 1.0 for r in rows)
    assert json.loads((out / "area_curve.json").read_text()) == res


def test_a_library_block_is_pasted_at_each_area(curve, model):
    """The figure's number for the hog block at an area not its own is evaluate_block's at that area."""
    from blocks import load_block
    from blocks.evaluate import evaluate_block
    from models import load_photos
    res, folder, _ = curve
    x, _ = load_photos(folder, model.input_size)
    hog = load_block("hog")
    for area in AREAS:
        want = evaluate_block(model, x, hog.image, hog.info.target, area, 2, 0, placement="animal")
        got = [r for r in res["rows"] if r["block"] == "hog" and r["placement"] == "animal" and r["area"] == area]
        assert got[0]["targeted_success"] == want["targeted_success"]
        assert got[0]["chickens"] == want["chickens"]          # hens.jpg is a chicken photo


def test_the_png_shows_both_placements_with_their_lines(curve):
    """Each panel's plot differs from the same panel drawn with no lines (the caption is 30 px high)."""
    res, _, out = curve
    img = cv2.imread(str(out / "area_curve.png"))
    assert img is not None and img.shape[1] == 2 * 560
    figures = load_script()
    for k, placement in enumerate(("animal", "random")):
        blank = figures.area_panel({**res, "rows": []}, placement)[:400]
        panel = img[30:430, 560 * k:560 * (k + 1)]
        assert (panel != figures.area_panel(res, placement)[:400]).sum() == 0
        assert (np.abs(panel.astype(int) - blank).sum(axis=2) > 60).sum() > 300
