import pytest

from app.config import DEFAULT_CONFIG, Settings, load_settings, override
from models import UserError


def test_shipped_config_is_valid_and_matches_the_defaults():
    s = load_settings(DEFAULT_CONFIG)
    assert s == Settings()          # config.yaml documents the defaults; they must not drift apart


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, words", [
    ("sourse: 0\n", ["unknown key 'sourse'", "did you mean 'source'"]),
    ("block:\n  nmae: hog\n", ["'block.nmae'", "'block.name'"]),
    ("max_frames: ten\n", ["max_frames", "integer", "'ten'"]),
    ("loop: 1\n", ["loop", "true or false"]),
    ("device: gpu\n", ["device", "'gpu'", "auto, cpu, cuda"]),
    ("localize:\n  confidence: 1.5\n", ["localize.confidence", "out of range"]),
    ("size: [640]\n", ["size", "2 values"]),
    ("size: [640, 4]\n", ["size"]),
    ("block: hog\n", ["block must be a mapping"]),
    ("source: [\n", ["not valid YAML", "line"]),
    ("record:\n  gif_width: 640\n", ["unknown key 'record.gif_width'", "did you mean 'record.anim_width'"]),
    ("record:\n  gif_max_frames: 9\n", ["'record.gif_max_frames'", "did you mean 'record.anim_max_frames'"]),
    ("record:\n  anim_fps: 60\n", ["record.anim_fps", "out of range"]),
])
def test_bad_config_names_the_key(tmp_path, text, words):
    p = _write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_settings(p)
    msg = str(err.value)
    assert "\n" not in msg and str(p) in msg
    for w in words:
        assert w in msg


def test_values_are_typed(tmp_path):
    s = load_settings(_write(tmp_path, "source: 0\nfps: 25\nblock:\n  cycle: [hog]\n  scale: 1\n"))
    assert s.source == "0" and s.fps == 25.0 and isinstance(s.fps, float)
    assert s.block.cycle == ("hog",) and s.block.scale == 1.0 and s.block.name == "hog"
    assert s.localize == Settings().localize                      # untouched sections keep defaults


def test_cli_overrides_go_through_the_same_checks():
    s = override(Settings(), {"block.name": "giant_panda", "max_frames": 7, "ui.headless": True, "stats": None})
    assert s.block.name == "giant_panda" and s.max_frames == 7 and s.ui.headless and s.stats is None
    with pytest.raises(UserError, match="block.scale"):
        override(Settings(), {"block.scale": 99.0})


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    p = _write(tmp_path, "source: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_settings(p)
