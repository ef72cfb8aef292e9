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
