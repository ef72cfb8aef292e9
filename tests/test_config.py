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
    ("sourse: 0\n", ["line 1: sourse: unknown key", "did you mean 'source'?"]),
    ("block:\n  nmae: hog\n", ["line 2: block.nmae: unknown key", "did you mean 'block.name'?"]),
    ("max_frames: ten\n", ["max_frames", "integer", "'ten'"]),
    ("loop: 1\n", ["loop", "true or false"]),
    ("device: gpu\n", ["device", "'gpu'", "auto, cpu, cuda"]),
    ("localize:\n  confidence: 1.5\n", ["localize.confidence", "out of range"]),
    ("size: [640]\n", ["size", "2 values"]),
    ("size: [640, 4]\n", ["size"]),
    ("block: hog\n", ["block must be a mapping"]),
    ("source: [\n", ["not valid YAML", "line"]),
    ("record:\n  gif_width: 640\n", ["record.gif_width: unknown key", "did you mean 'record.anim_width'?"]),
    ("record:\n  gif_max_frames: 9\n",
     ["record.gif_max_frames: unknown key", "did you mean 'record.anim_max_frames'?"]),
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


@pytest.mark.parametrize("text, line", [
    # YAML syntax: the line to fix (PyYAML counts lines from 0; for a quote or bracket never closed it gives up
    # at the end of the file or on the next line, so the line where it was opened is named)
    ("source: 0\nblock:\n  name: hog\n   scale: 1\nfps: 30\n",       # indented too deep
     "line 4: not valid YAML: a ':' where no key can start (indented too deep, or a value with ': ' that needs "
     "quotes)"),
    ("source: 0\nblock:\n  name: hog\n scale: 1\nfps: 30\n",         # indented between two levels
     "line 4: not valid YAML: this line's indentation matches no line above it"),
    ("source: 0\nblock:\n  name: \"hog\n  scale: 1\nfps: 30\n",       # a quote never closed (PyYAML: line 6)
     "line 3: not valid YAML: the quoted string that starts here is never closed"),
    ("source: 0\nsize: [640, 480\nfps: 30\n",                         # a bracket never closed (PyYAML: line 3)
     "line 2: not valid YAML: the [ ... ] list that starts here is not closed properly (expected ',' or ']', "
     "but got ':')"),
    ("source: 0\nblock:\n\tname: hog\nfps: 30\n", "line 3: not valid YAML: a tab: YAML indents with spaces"),
    ("source: 0\nblock: name: hog\n",
     "line 2: not valid YAML: a ':' where no key can start (indented too deep, or a value with ': ' that needs "
     "quotes)"),
    # a key given twice (PyYAML alone keeps the last without a word)
    ("source: 0\nfps: 30\nsource: 1\n", "line 3: source: set twice (first on line 1)"),
    ("block:\n  name: hog\n  scale: 1\n  name: pig\n", "line 4: block.name: set twice (first on line 2)"),
    # unknown keys and bad values: the line of the key
    ("source: 0\n\nblock:\n  scale: 1\n  nmae: hog\n", "line 5: block.nmae: unknown key (did you mean 'block.name'?)"),
    ("fps: 30\nlocalize:\n  method: cam\n  confidence: 1.5\n",
     "line 4: localize.confidence: 1.5 is out of range [0.0, 1.0]"),
    ("fps: 30\n# a comment\ndevice: gpu\n", "line 3: device: 'gpu' is not one of auto, cpu, cuda"),
    ("fps: 30\nblock: hog\n", "line 2: block must be a mapping, got 'hog'"),
    ("fps: 30\nsize: [640, 4]\n", "line 2: size [640, 4] must be two sides in 16..8192"),
    ("block:\n  cycle: [hog, 3.5]\n", "line 2: block.cycle[1]: expected a string, got 3.5"),
    ("block:\n  make:\n    - hog\n    - hogg\n", "line 4: block.make[1]: unknown ImageNet class 'hogg'"),
    ("ui:\n  kiosk:\n    block_on_s: 3\n", "line 3: ui.kiosk.block_on_s and ui.kiosk.block_off_s make a rhythm"),
])
def test_config_errors_name_the_line(tmp_path, text, line):
    p = _write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_settings(p)
    assert str(err.value).startswith(f"{p} {line}"), str(err.value)


def test_command_line_errors_name_no_line():
    with pytest.raises(UserError) as err:
        override(Settings(), {"device": "gpu"})
    assert str(err.value) == "command line: device: 'gpu' is not one of auto, cpu, cuda"


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
