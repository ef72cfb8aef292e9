import json
import shutil

import pytest
import torch

from blocks.library import LIBRARY, BlockInfo, list_blocks, load_block, save_block
from models import UserError


@pytest.mark.parametrize("name, target", [("hog", 341), ("giant_panda", 388)])
def test_shipped_blocks_load(name, target):
    b = load_block(name, "efficientnet_lite0")
    assert b.info.target == target and b.info.area <= 0.10
    assert b.image.shape == (3, b.info.side, b.info.side)
    assert 0 <= float(b.image.min()) and float(b.image.max()) <= 1
    assert name in list_blocks()


def test_save_and_load_round_trip(tmp_path):
    block = torch.rand(3, 12, 12)
    info = BlockInfo(341, "hog", "efficientnet_lite0", (12 / 224) ** 2, 12)
    png = save_block(block, info, tmp_path, "mine")
    back = load_block(str(png))
    assert back.info == info and (back.image - block).abs().max() <= 1 / 255 + 1e-6
    assert not list(tmp_path.glob(".*"))        # no temporary files left


@pytest.fixture
def copy(tmp_path):
    shutil.copy(LIBRARY / "hog.png", tmp_path / "b.png")
    shutil.copy(LIBRARY / "hog.json", tmp_path / "b.json")
    return tmp_path / "b.png"


def _edit(png, **changes):
    meta = png.with_suffix(".json")
    data = json.loads(meta.read_text())
    data.update(changes)
    for k, v in changes.items():
        if v is None:
            del data[k]
    meta.write_text(json.dumps(data))


def test_truncated_png(copy):
    copy.write_bytes(copy.read_bytes()[:100])
    with pytest.raises(UserError, match="cannot be decoded"):
        load_block(str(copy))


def test_other_model(copy):
    _edit(copy, model="efficientnet_lite2")
    with pytest.raises(UserError, match="made for model 'efficientnet_lite2'"):
        load_block(str(copy), "efficientnet_lite0")


@pytest.mark.parametrize("changes, match", [({"target": None}, "lacks 'target'"), ({"target": 5000}, "target"),
                                            ({"area": 2}, "area"), ({"side": 7}, "side 7"),
                                            ({"target_name": "cat"}, "not 'cat'"), ({"colour": 1}, "unknown key")])
def test_bad_metadata(copy, changes, match):
    _edit(copy, **changes)
    with pytest.raises(UserError, match=match):
        load_block(str(copy))


def test_missing_files(tmp_path, copy):
    copy.with_suffix(".json").unlink()
    with pytest.raises(UserError, match="metadata"):
        load_block(str(copy))
    with pytest.raises(UserError, match="unknown block 'nope'"):
        load_block("nope")
    (tmp_path / "x.json").write_text("{not json")
    shutil.copy(LIBRARY / "hog.png", tmp_path / "x.png")
    with pytest.raises(UserError, match="not valid JSON"):
        load_block(str(tmp_path / "x.png"))


@pytest.fixture
def user_lib(tmp_path, monkeypatch):
    """The user's library in tmp_path (never the real home)."""
    from blocks.library import USER_ENV
    lib = tmp_path / "user_blocks"
    monkeypatch.setenv(USER_ENV, str(lib))
    return lib


def test_user_library_path_follows_the_environment(tmp_path, monkeypatch):
    from blocks.library import USER_ENV, user_library
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_library() == tmp_path / "data" / "chicken-saviour" / "blocks"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_library() == tmp_path / "home" / ".local" / "share" / "chicken-saviour" / "blocks"
    monkeypatch.setenv(USER_ENV, str(tmp_path / "mine"))
    assert user_library() == tmp_path / "mine"


def test_user_blocks_are_listed_after_the_shipped_ones_and_load_by_name(user_lib):
    block = torch.rand(3, 12, 12)
    save_block(block, BlockInfo(145, "king penguin", "efficientnet_lite0", (12 / 224) ** 2, 12), user_lib, "mine")
    names = list_blocks()
    assert names[-1] == "mine" and names[:-1] == list_blocks(LIBRARY) and "hog" in names
    assert load_block("mine").path == user_lib / "mine.png"
    assert list_blocks(user_lib) == ["mine"]
    shutil.copy(LIBRARY / "hog.png", user_lib / "hog.png")        # a user block named like a shipped one
    shutil.copy(LIBRARY / "hog.json", user_lib / "hog.json")
    assert list_blocks().count("hog") == 1 and load_block("hog").path == LIBRARY / "hog.png"


def test_unknown_block_name_says_did_you_mean(user_lib):
    with pytest.raises(UserError) as err:
        load_block("hgo")
    assert "no block 'hgo' in the library (did you mean 'hog'?); python -m blocks list shows them" in str(err.value)
    with pytest.raises(UserError, match=r"no block 'zzzzzz' in the library; python"):
        load_block("zzzzzz")


def test_blocks_list_shows_shipped_then_yours(user_lib):
    import subprocess
    import sys

    from conftest import ROOT
    save_block(torch.rand(3, 12, 12), BlockInfo(145, "king penguin", "efficientnet_lite0", (12 / 224) ** 2, 12),
               user_lib, "mine")
    out = subprocess.run([sys.executable, "-m", "blocks", "list"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    kinds = [line.split()[1] for line in lines[:-1]]
    assert kinds == sorted(kinds, key=lambda k: k != "shipped") and kinds[-1] == "yours"
    assert lines[-2].startswith("mine ") and lines[-1] == f"(yours: {user_lib})"


def test_app_unknown_block_is_one_error_line(user_lib, capsys):
    from app.__main__ import main as app_main
    assert app_main(["--block", "hgo", "--headless", "--source", "sample", "--max-frames", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'hog'?" in err and err.startswith("error: ")
