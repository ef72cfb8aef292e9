"""Every kind of bad input: one line on stderr starting with `error:`, exit code 2, no traceback."""
import json
import shutil
import subprocess
import sys

import pytest
import torch

from app.__main__ import main
from blocks.library import LIBRARY
from conftest import PHOTOS, ROOT


def _block_copy(tmp_path, name, **changes):
    shutil.copy(LIBRARY / "hog.png", tmp_path / f"{name}.png")
    data = json.loads((LIBRARY / "hog.json").read_text())
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    (tmp_path / f"{name}.json").write_text(json.dumps(data))
    return str(tmp_path / f"{name}.png")


def _cases(tmp_path):
    cfg = tmp_path / "c.yaml"
    corrupt_w = tmp_path / "w.pth"
    corrupt_w.write_bytes(b"\x80\x02garbage")
    truncated = tmp_path / "t.png"
    truncated.write_bytes((LIBRARY / "hog.png").read_bytes()[:64])
    shutil.copy(LIBRARY / "hog.json", tmp_path / "t.json")
    readonly = tmp_path / "file"
    readonly.write_text("x")
    return {
        "unknown config key": (["--config", str(cfg)], "locallize:\n  method: cam\n", ["locallize", str(cfg)]),
        "wrong type": (["--config", str(cfg)], "max_frames: many\n", ["max_frames", "'many'"]),
        "out of range": (["--config", str(cfg)], "localize:\n  threshold: 7\n", ["localize.threshold", "7"]),
        "missing weights": (["--weights", str(tmp_path / "none.pth")], None, ["none.pth", "does not exist"]),
        "corrupt weights": (["--weights", str(corrupt_w)], None, ["w.pth", "cannot be read"]),
        "truncated block png": (["--block", str(truncated)], None, ["t.png", "cannot be decoded"]),
        "block for another model": (["--block", _block_copy(tmp_path, "m", model="efficientnet_lite2")], None,
                                    ["m.png", "efficientnet_lite2"]),
        "block without target": (["--block", _block_copy(tmp_path, "t0", target=None)], None, ["t0.json", "target"]),
        "unknown block name": (["--block", "unicorn"], None, ["unicorn"]),
        "missing source": (["--source", str(tmp_path / "nope.mp4")], None, ["nope.mp4"]),
        "unwritable output": (["--record", str(readonly / "x.gif")], None, ["x.gif"]),
        "unwritable stats": (["--stats", str(readonly / "x.jsonl")], None, ["x.jsonl"]),
        "bad record format": (["--record", str(tmp_path / "x.docx")], None, ["x.docx"]),
        "bad record format, no camera": (["--record", str(tmp_path / "x.mkv"), "--source", "7"], None,
                                         ["x.mkv", "unknown extension"]),     # said before the camera is tried
        "cuda without cuda": (["--device", "cuda"], None, ["cuda"]),
        "bad layout flag": (["--layout", "diagonal"], None, ["layout", "diagonal"]),
    }


CASES = ["unknown config key", "wrong type", "out of range", "missing weights", "corrupt weights",
         "truncated block png", "block for another model", "block without target", "unknown block name",
         "missing source", "unwritable output", "unwritable stats", "bad record format",
         "bad record format, no camera", "cuda without cuda",
         "bad layout flag"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_clear_line(tmp_path, capsys, case):
    if case == "cuda without cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    args, cfg_text, words = _cases(tmp_path)[case]
    if cfg_text is not None:
        (tmp_path / "c.yaml").write_text(cfg_text)
    code = main(args + ["--source", str(PHOTOS / "hens.jpg")] * ("--source" not in args)
                + ["--headless", "--max-frames", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0]


def test_the_real_cli_prints_no_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "app", "--headless", "--block", "unicorn"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: unknown block 'unicorn'") and "Traceback" not in out.stderr
    dbg = subprocess.run([sys.executable, "-m", "app", "--headless", "--block", "unicorn", "--debug"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" in dbg.stderr          # --debug shows it


def test_blocks_cli_errors():
    out = subprocess.run([sys.executable, "-m", "blocks", "make", "--target", "hogg", "--photos", "x"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: unknown ImageNet class 'hogg'")
    assert "did you mean 'hog'" in out.stderr and out.stderr.count("\n") == 1


def test_a_run_that_fails_to_start_loses_nothing(tmp_path, capsys):
    old_stats = tmp_path / "old.jsonl"
    old_stats.write_text('{"frame": 0}\n')
    old_rec = tmp_path / "old.gif"
    old_rec.write_bytes(b"GIF89a previous recording")
    code = main(["--source", str(tmp_path / "missing.mp4"), "--stats", str(old_stats), "--record", str(old_rec),
                 "--headless", "--quiet"])
    assert code == 2 and "missing.mp4" in capsys.readouterr().err
    assert old_stats.read_text() == '{"frame": 0}\n'
    assert old_rec.read_bytes() == b"GIF89a previous recording"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.gif", "old.jsonl"]      # no temporary files
