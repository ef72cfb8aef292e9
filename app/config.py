"""config.yaml -> one typed Settings object, validated; CLI overrides go through the same checks.

No other module reads the YAML or argv. Every mistake is a UserError naming the file, key and value.
"""
from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import yaml

from models import UserError, class_index
from models.cam import THRESHOLD

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


@dataclass(frozen=True)
class BlockSettings:
    name: str = "hog"                      # library name, or a PNG path with its JSON beside it
    cycle: tuple[str, ...] = ()            # blocks that n/p step through (empty: the whole library)
    scale: float = 1.0                     # block side × this (1.0 = the area it was trained for)
    enabled: bool = True                   # start with the block on (space toggles)
    library: str | None = None             # the folder of library blocks (None: blocks/library)
    target: str | None = None              # start on a block toward this class (--target), made if there is none
    make: tuple[str, ...] = ()             # classes to make blocks for in the background when the library has none
    make_minutes: float = 10.0             # wall-clock budget of each background block
    make_goal: float = 1.0                 # ... which stops early once its held-out check reaches this (1.0: only
                                           # a perfect check; lower stops on a check that saturates, weaker)
    make_photos: str | None = None         # its training photos (None: blocks make's default, data/photos/train)


@dataclass(frozen=True)
class LocalizeSettings:
    method: str = "cam"                    # cam | sliding | center
    classes: str = "animals"               # animals | any: what the block goes on (any: any confident object)
    confidence: float = 0.15               # ... such a class on top, and the animal classes together (any: the top
                                           # one) this sure
    animal_mass: float = 0.4               # ... or the animal classes together this sure under another top class
    keep_mass: float = 0.2                 # ... once a block is on an animal, it stays while they are this sure
                                           # (≤ animal_mass)
    threshold: float = THRESHOLD           # CAM threshold, as a fraction of its maximum
    smoothing: float = 0.6                 # box EMA: weight of the previous box (0 = no smoothing)
    hold_frames: int = 15                  # keep the last box this many frames after the animal is lost
    fallback: bool = True                  # cam: a frame the block at the box's centre does not fool tries it at the
                                           # CAM's centre of mass (one more inference) and stays there while it fools


KIOSK_TEXT = "Right: the same frame with a small adversarial block. Same model, same instant."
KIOSK_TEXT_OFF = "Block off for a moment: both sides see the same frame."
KIOSK_TEXT_IDLE = "Show the camera an animal: a small block will fool the classifier on the right."


@dataclass(frozen=True)
class KioskSettings:
    enabled: bool = False                  # booth mode (--kiosk): fullscreen, big labels, runs by itself
    text: str = KIOSK_TEXT                 # the explanation strip under the panes ("" = none)
    text_off: str = KIOSK_TEXT_OFF         # the strip while the block is off (the rhythm, or space)
    text_idle: str = KIOSK_TEXT_IDLE       # the strip while nothing in view carries the block (a call to action)
    attract_after_s: float = 20.0          # no animal in view this long: play attract_source (0 = never)
    attract_source: str = "sample"         # what plays then, until the camera sees an animal again
    cycle_s: float = 0.0                   # step to the next block every N seconds (0 = never)
    block_on_s: float = 0.0                # block on/off rhythm: on this long, then off block_off_s
    block_off_s: float = 0.0               # (both 0 = the block stays as it is)
    screen: tuple[int, int] = (0, 0)       # display width, height in pixels ((0, 0) = ask the window)
    hide_cursor: bool = True               # hide the mouse pointer while the kiosk runs (X11)


@dataclass(frozen=True)
class UiSettings:
    layout: str = "side_by_side"           # side_by_side | stacked
    pane_width: int = 640                  # each pane is scaled to this width (0 = frame width)
    headless: bool = False                 # no window (automatic when there is no display)
    fullscreen: bool = False
    fooled_window: int = 30                # frames in the rolling "fooled" rate
    kiosk: KioskSettings = field(default_factory=KioskSettings)


@dataclass(frozen=True)
class RecordSettings:
    path: str | None = None                # .mp4, .avi, .gif or .webp (complete when the run ends, atomically)
    snapshot_dir: str = "out"              # where `s` writes PNG snapshots
    anim_max_frames: int = 300             # GIF/WebP memory bound (videos stream to disk)
    anim_width: int = 800                  # GIF/WebP width (0 = the canvas's); videos are always the canvas's
    anim_fps: float = 10.0                 # GIF/WebP frame rate (frames beyond it are skipped)
    webp_quality: int = 75                 # lossy WebP quality, 1..100
    style: str = "clean"                   # clean: panes and labels drawn for the recording's size | screen: as shown
    video_width: int = 1280                # MP4/AVI and snapshot width, clean style (screen: the canvas)


@dataclass(frozen=True)
class Settings:
    source: str = "0"                      # camera index, /dev/videoN, cam:NAME, video file, image, folder, or "sample"
    size: tuple[int, int] = (640, 480)     # frame size (width, height) of generated and processed frames
    loop: bool | None = None               # restart a finite source at its end (None: in a window only)
    mirror: bool | None = None             # flip frames left-right as they come (None: cameras only; m toggles)
    camera_size: tuple[int, int] | None = None   # capture size asked of a camera (None: the camera's own)
    realtime: bool | None = None           # pace files and the sample at their own rate (None: in a window only)
    fps: float = 30.0                      # rate of generated sources and recordings of them
    model: str = "efficientnet_lite0"
    weights: str | None = None             # a .pth to use instead of the installed package's
    device: str = "auto"                   # auto | cpu | cuda
    backend: str = "auto"                  # auto | onnx | torch
    threads: int = 0                       # CPU inference threads (0 = all cores)
    max_frames: int = 0                    # stop after this many frames (0 = until the source ends / q)
    stats: str | None = None               # JSONL, one object per frame
    block: BlockSettings = field(default_factory=BlockSettings)
    localize: LocalizeSettings = field(default_factory=LocalizeSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    record: RecordSettings = field(default_factory=RecordSettings)


CHOICES = {
    "device": ("auto", "cpu", "cuda"), "backend": ("auto", "onnx", "torch"),
    "localize.method": ("cam", "sliding", "center"), "localize.classes": ("animals", "any"),
    "ui.layout": ("side_by_side", "stacked"), "record.style": ("clean", "screen"),
}
RANGES = {  # key: (low, high), inclusive
    "fps": (1, 240), "threads": (0, 256), "max_frames": (0, 10**9), "block.scale": (0.2, 3.0),
    "localize.confidence": (0.0, 1.0), "localize.animal_mass": (0.0, 1.0), "localize.keep_mass": (0.0, 1.0),
    "localize.threshold": (0.05, 0.95), "localize.smoothing": (0.0, 0.95),
    "localize.hold_frames": (0, 10**6), "ui.pane_width": (0, 4096), "ui.fooled_window": (1, 10**5),
    "record.anim_max_frames": (2, 10**5), "record.anim_width": (0, 8192), "record.anim_fps": (1, 50),
    "record.webp_quality": (1, 100), "record.video_width": (160, 7680), "block.make_minutes": (0.1, 1440),
    "block.make_goal": (0.01, 1.0),
    "ui.kiosk.attract_after_s": (0, 86400), "ui.kiosk.cycle_s": (0, 86400), "ui.kiosk.block_on_s": (0, 3600),
    "ui.kiosk.block_off_s": (0, 3600),
}


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def _coerce(value, tp, where: str):
    """Check `value` against the annotation `tp`; returns the value in its typed form."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise UserError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise UserError(f"{where}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported setting type {tp}")  # a programming error, not a user's


def _build(cls, data, prefix: str, origin: str):
    if not isinstance(data, dict):
        where = prefix.rstrip(".")
        raise UserError(f"{_at(origin, where)}: {where or 'the file'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    out = {}
    for key, value in data.items():
        where = f"{_at(origin, f'{prefix}{key}')}: {prefix}{key}"
        if key not in names:
            hint = difflib.get_close_matches(str(key), names, n=1)
            raise UserError(f"{where}: unknown key" + (f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""))
        tp = hints[key]
        if is_dataclass(tp):
            out[key] = _build(tp, value, f"{prefix}{key}.", origin)
            continue
        out[key] = _coerce(value, tp, where)
        dotted = f"{prefix}{key}"
        if dotted in CHOICES and out[key] not in CHOICES[dotted]:
            raise UserError(f"{where}: {out[key]!r} is not one of {', '.join(CHOICES[dotted])}")
        if dotted in RANGES and out[key] is not None:
            lo, hi = RANGES[dotted]
            if not lo <= out[key] <= hi:
                raise UserError(f"{where}: {out[key]!r} is out of range [{lo}, {hi}]")
    if cls is Settings and "size" in out and not all(16 <= v <= 8192 for v in out["size"]):
        raise UserError(f"{_at(origin, 'size')}: size {list(out['size'])} must be two sides in 16..8192")
    if cls is Settings and out.get("camera_size") and not all(16 <= v <= 8192 for v in out["camera_size"]):
        raise UserError(f"{_at(origin, 'camera_size')}: camera_size {list(out['camera_size'])} must be two sides "
                        "in 16..8192")
    if cls is KioskSettings:
        _check_kiosk(out, prefix, origin)
    if cls is BlockSettings:
        _check_classes(out, prefix, origin)
    return cls(**out)


def _check_kiosk(out: dict, prefix: str, origin: str) -> None:
    screen = out.get("screen", (0, 0))
    if screen != (0, 0) and not all(160 <= v <= 16384 for v in screen):
        raise UserError(f"{_at(origin, prefix + 'screen')}: {prefix}screen {list(screen)} must be [0, 0] (ask the "
                        "window) or two sides "
                        "in 160..16384")
    if (out.get("block_on_s", 0) > 0) != (out.get("block_off_s", 0) > 0):
        raise UserError(f"{_at(origin, prefix + 'block_on_s')}: {prefix}block_on_s and {prefix}block_off_s make a "
                        "rhythm: set both above 0, "
                        "or both to 0")


def _check_classes(out: dict, prefix: str, origin: str) -> None:
    """block.target and block.make name ImageNet classes (an unknown name: did you mean ...)."""
    named = [("target", out.get("target"))] + [(f"make[{i}]", n) for i, n in enumerate(out.get("make", ()))]
    for key, name in named:
        try:
            if name is not None:
                class_index(name)
        except UserError as exc:
            raise UserError(f"{_at(origin, prefix + key)}: {prefix}{key}: {exc}") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate a config file (default: config.yaml at the top of the project)."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        if path == DEFAULT_CONFIG:
            return Settings()
        raise UserError(f"config file {path} does not exist")
    data, lines = _read_yaml(path)
    return _build(Settings, data or {}, "", _Origin(path, lines))


class _Origin(str):
    """A config file's name for messages, with the line of each key in it ('block.name': 3, 'block.make[0]': 5)."""

    def __new__(cls, path, lines: dict[str, int]):
        self = super().__new__(cls, str(path))
        self.lines = lines
        return self


def _at(origin: str, dotted: str) -> str:
    """'config.yaml line 3' where the file has the key `dotted`, else the origin as it is ('command line')."""
    line = getattr(origin, "lines", {}).get(dotted)
    return f"{origin} line {line}" if line else origin


def _read_yaml(path: Path) -> tuple[object, dict[str, int]]:
    """The file's data (safely: plain YAML types only) and the 1-based line of every key; a syntax error, a
    key given twice or text that is not UTF-8 is a UserError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not valid YAML: it is not UTF-8 text") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        _key_lines(node, "", lines, path)
        return (loader.construct_document(node) if node is not None else None), lines
    except yaml.YAMLError as exc:
        raise UserError(_yaml_problem(path, exc)) from None
    finally:
        loader.dispose()


def _key_lines(node, dotted: str, lines: dict[str, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = f"{dotted}.{key.value}" if dotted else str(key.value)
            if name in lines:
                raise UserError(f"{path} line {key.start_mark.line + 1}: {name}: set twice (first on line "
                                f"{lines[name]})")
            lines[name] = key.start_mark.line + 1           # PyYAML's marks count lines from 0
            _key_lines(value, name, lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[f"{dotted}[{i}]"] = item.start_mark.line + 1
            _key_lines(item, f"{dotted}[{i}]", lines, path)


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """'c.yaml line 3: not valid YAML: ...' at the line to fix. PyYAML's problem_mark is where it gave up: for a
    quote or a bracket never closed that is the end of the file or the next line, so the line where it was
    opened (context_mark) is the one named then."""
    problem, context = getattr(exc, "problem", None) or "", getattr(exc, "context", None) or ""
    mark, opened = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if opened is not None and "quoted scalar" in context:
        mark, what = opened, "the quoted string that starts here is never closed"
    elif opened is not None and "flow" in context:
        kind = "[ ... ] list" if "sequence" in context else "{ ... } mapping"
        mark, what = opened, f"the {kind} that starts here is not closed properly ({problem})"
    elif "'\\t'" in problem:
        what = "a tab: YAML indents with spaces"
    elif "expected <block end>" in problem:
        what = "this line's indentation matches no line above it"
    elif problem == "mapping values are not allowed here":
        what = "a ':' where no key can start (indented too deep, or a value with ': ' that needs quotes)"
    else:
        what = problem or str(exc).splitlines()[0]
    at = f" line {mark.line + 1}" if mark is not None else ""
    return f"{path}{at}: not valid YAML: {what}"


def _nest(dotted: dict) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _as_dict(obj) -> dict:
    return {f.name: (_as_dict(v) if is_dataclass(v := getattr(obj, f.name)) else v) for f in fields(obj)}


def override(settings: Settings, dotted: dict, origin: str = "command line") -> Settings:
    """Apply {'block.name': 'hog', 'max_frames': 10, ...} (None values are skipped) with full validation."""
    changes = _nest({k: v for k, v in dotted.items() if v is not None})
    return _build(Settings, _merge(_as_dict(settings), changes), "", origin)


def _merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


__all__ = ["BlockSettings", "KioskSettings", "LocalizeSettings", "RecordSettings", "Settings", "UiSettings",
           "load_settings", "override"]
