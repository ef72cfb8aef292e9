"""`python -m blocks eval live` (blocks/eval_live.py): the live share of
frames the app turns into the block's target, per photo, checked against the app's own stats for the same run."""
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from blocks.eval_live import main as eval_live
from conftest import PHOTOS, ROOT, run_main

FRAMES = 12
pytestmark = pytest.mark.xdist_group("eval_live")     # one worker plays the module's photos
PANDA = 388          # giant panda: the block's target, and what the classifier calls panda.jpg


def run_script(*args):
    """`python -m blocks eval live ARGS`, in this process."""
    return run_main(eval_live, *args)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """hens and panda at the top, duck in a subfolder (the folder is searched recursively)."""
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    shutil.copy(PHOTOS / "hens.jpg", d / "hens.jpg")
    shutil.copy(PHOTOS / "panda.jpg", d / "panda.jpg")
    shutil.copy(PHOTOS / "duck.jpg", d / "sub" / "duck.jpg")
    return d


@pytest.fixture(scope="module")
def live(folder):
    out = run_script("--source", str(folder), "--block", "giant_panda", "--frames", str(FRAMES), "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    return res, {row["photo"].rsplit("/", 1)[-1]: row for row in res["per_photo"]}


def test_every_photo_is_its_own_source_with_its_own_share(live):
    res, rows = live
    assert res["kind"] == "photos" and res["target"] == PANDA
    assert sorted(rows) == ["duck.jpg", "hens.jpg", "panda.jpg"]
    for r in rows.values():
        assert r["frames"] == FRAMES
        assert r["judged"] + r["left_out"] == FRAMES
        assert 0 <= r["not_pasted"] <= r["judged"] and 0 <= r["fooled"] <= r["judged"]
        if r["judged"]:
            assert 0.0 <= r["share"] <= 1.0 and r["share"] == pytest.approx(r["fooled"] / r["judged"], abs=1e-4)
    assert res["frames"] == 3 * FRAMES and res["fps"] > 0


def test_frames_already_the_target_are_left_out(live):
    res, rows = live
    panda = rows["panda.jpg"]
    assert panda["before"] == PANDA
    assert panda["left_out"] == FRAMES and panda["judged"] == 0 and panda["share"] is None
    assert res["left_out"] == sum(r["left_out"] for r in rows.values()) >= FRAMES


def test_total_is_the_frame_weighted_figure_and_mean_and_worst_are_over_photos(live):
    res, rows = live
    judged = [r for r in rows.values() if r["judged"]]
    weighted = sum(r["share"] * r["judged"] for r in judged) / sum(r["judged"] for r in judged)
    assert res["share"] == pytest.approx(weighted, abs=1e-3)
    assert res["share"] == pytest.approx(res["fooled"] / res["judged"], abs=1e-4)
    assert res["judged"] == 2 * FRAMES            # hens and duck; none of the panda's frames
    assert res["mean_over_photos"] == pytest.approx(sum(r["share"] for r in judged) / len(judged), abs=1e-3)
    worst = min(judged, key=lambda r: r["share"])
    assert res["worst"]["share"] == worst["share"] and res["worst"]["photo"] == worst["photo"]


def test_chickens_are_reported_apart(live):
    res, rows = live
    assert rows["hens.jpg"]["chicken"] and rows["hens.jpg"]["before"] in (7, 8)
    assert not rows["duck.jpg"]["chicken"] and not rows["panda.jpg"]["chicken"]
    ch = res["chickens"]
    assert ch["photos"] == 1 and ch["judged"] == rows["hens.jpg"]["judged"]
    assert ch["share"] == rows["hens.jpg"]["share"]


def test_photos_seen_as_animals_are_totalled_apart(live):
    res, rows = live
    an = res["animal_photos"]
    animals = [r for r in rows.values() if r["animal"]]
    assert an["photos"] == len(animals) == 3                       # hens, duck, panda: all animals
    assert an["judged"] == sum(r["judged"] for r in animals) and an["fooled"] == sum(r["fooled"] for r in animals)


def test_agrees_with_the_apps_own_stats(live, folder, tmp_path):
    """The same photo played by `python -m app` headless: counting its stats JSONL gives the same figure."""
    _, rows = live
    stats = tmp_path / "hens.jsonl"
    out = subprocess.run([sys.executable, "-m", "app", "--source", str(folder / "hens.jpg"), "--block", "giant_panda",
                          "--headless", "--max-frames", str(FRAMES), "--stats", str(stats), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in stats.read_text().splitlines()]
    assert len(lines) == FRAMES
    judged = [d for d in lines if d["before"]["index"] != PANDA]
    fooled = [d for d in judged if d["block"] is not None and d["after"]["index"] == PANDA]
    hens = rows["hens.jpg"]
    assert (hens["judged"], hens["fooled"]) == (len(judged), len(fooled))
    assert hens["not_pasted"] == sum(d["block"] is None for d in judged) == 0    # the first frame too
    assert hens["fooled"] >= 1


def test_a_clip_gives_one_share(tmp_path):
    clip = tmp_path / "hens.avi"
    img = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(6):
        writer.write(img)
    writer.release()
    out = run_script("--source", str(clip), "--block", "hog", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["kind"] == "clip" and res["frames"] == 6 and len(res["per_photo"]) == 1
    assert res["share"] == res["per_photo"][0]["share"] and 0 <= res["share"] <= 1
    assert res["chicken_frames"]["judged"] == res["judged"]        # every frame shows the hens


def test_a_photo_is_judged_over_the_whole_clip_the_app_plays_by_default(folder):
    """Without --frames a photo plays exactly the frames `python -m app --source PHOTO` shows: one pass."""
    out = run_script("--source", str(folder / "sub"), "--block", "hog", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    mod = load_script()
    with mod.open_source(str(folder / "sub" / "duck.jpg")) as src:
        assert res["frames"] == res["per_photo"][0]["frames"] == src.frame_count == 90


def test_a_seed_gives_each_photo_another_camera_path(folder):
    """--seed 1 plays the same photos along other camera moves: the same frames judged, other frames seen
    (the hens' share or before-labels may move), and the run says its seed; seed 0 is the app's own move."""
    out = run_script("--source", str(folder / "hens.jpg"), "--block", "giant_panda", "--frames", str(FRAMES),
                     "--seed", "1", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["seed"] == 1 and res["frames"] == FRAMES and res["chickens"]["photos"] == 1
    mod = load_script()
    settings = mod.settings_for(mod.argparse.Namespace(config=None, source=str(folder), block="hog", scale=None,
                                                       backend=None))
    first = {}
    for seed in (0, 1, 2):
        with mod.photo_source(settings, folder / "hens.jpg", seed) as src:
            first[seed] = src.read()
    with mod.open_source(str(folder / "hens.jpg"), size=settings.size) as src:
        own = src.read()
    assert np.array_equal(first[0], own)
    assert np.abs(first[1].astype(int) - first[2]).mean() > 5 and np.abs(first[1].astype(int) - own).mean() > 5


def load_script():
    import blocks.eval_live
    return blocks.eval_live


@pytest.mark.parametrize("args, says", [
    (["--source", "no/such/folder", "--block", "hog"], "no such file or folder"),
    (["--source", str(PHOTOS / "hens.jpg"), "--block", "no_such_block"], "unknown block"),
    (["--source", str(PHOTOS), "--block", "hog", "--frames", "0"], "--frames"),
    (["--source", str(PHOTOS), "--block", "hog", "--seed", "-1"], "--seed"),
    (["--source", "sample", "--block", "hog", "--seed", "1"], "--seed applies to photos"),
])
def test_bad_input_is_one_error_line(args, says, capsys):
    import blocks.__main__ as cli
    for main in (load_script().main, lambda argv: cli.main(["eval", "live", *argv])):
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and says in err[0]
