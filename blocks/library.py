"""The block library: NAME.png (the block, RGB) + NAME.json (what it is), loaded and validated here.

Two folders make the library: the shipped blocks (blocks/library, in the source tree, written only by an
explicit `blocks make --out blocks/library`) and the user's blocks, where `blocks make` and the app's
background maker write by default: $CHICKEN_SAVIOUR_BLOCKS if set, else $XDG_DATA_HOME/chicken-saviour/blocks
(~/.local/share/chicken-saviour/blocks). A name is looked up in the shipped folder first, then the user's.
"""
from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import torch

from models import UserError, class_names
from models.preprocess import to_bgr, to_tensor

LIBRARY = Path(__file__).with_name("library")
USER_ENV = "CHICKEN_SAVIOUR_BLOCKS"
FORMAT = 1


def user_library() -> Path:
    """The user's block folder (outside the source tree): $CHICKEN_SAVIOUR_BLOCKS, else
    $XDG_DATA_HOME/chicken-saviour/blocks, else ~/.local/share/chicken-saviour/blocks."""
    if os.environ.get(USER_ENV):
        return Path(os.environ[USER_ENV]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "chicken-saviour" / "blocks"


def library_folders(folder: Path | str | None = None) -> list[Path]:
    """The folders a name is looked up in: `folder` alone when given, else the shipped library, then the user's."""
    return [Path(folder)] if folder is not None else [LIBRARY, user_library()]


@dataclass
class BlockInfo:
    target: int                 # ImageNet index
    target_name: str
    model: str
    area: float                 # fraction of the classifier's input the block covers
    side: int                   # pixels, at the classifier's input size
    input_size: int = 224
    steps: int = 0
    seed: int = 0
    train_success: float | None = None
    seconds: float | None = None
    method: str = "eot"         # "eot" or "seed" (one-step, eps sweep)
    eps: float | None = None    # for seed blocks
    photos: list[str] = field(default_factory=list)
    placement: str = "random"   # how it was trained: "animal" (where the app pastes it) or "random"
    figures: dict = field(default_factory=dict)   # its success on held-out photos, as measured when made
    format: int = FORMAT


@dataclass
class Block:
    name: str
    image: torch.Tensor         # 3×s×s RGB [0,1]
    info: BlockInfo
    path: Path | None = None


def folder_blocks(folder: Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.png") if p.with_suffix(".json").is_file())


def list_blocks(folder: Path | str | None = None) -> list[str]:
    """The block names in `folder`, or (None) in the shipped library then the user's (a user block named like a
    shipped one is listed once: the name loads the shipped block)."""
    return list(dict.fromkeys(n for f in library_folders(folder) for n in folder_blocks(f)))


def resolve(name_or_path: str, folder: Path | str | None = None) -> Path:
    """A library name ('hog') or a path to NAME.png (with NAME.json beside it) -> the PNG path."""
    p = Path(name_or_path)
    if p.suffix.lower() == ".png" or os.sep in name_or_path or "/" in name_or_path:
        return p
    for f in library_folders(folder):
        cand = f / f"{name_or_path}.png"
        if cand.is_file():
            return cand
    close = difflib.get_close_matches(name_or_path, list_blocks(folder), n=1)
    where = "the library" if folder is None else f"the library {folder}"
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UserError(f"unknown block {name_or_path!r}: no block {name_or_path!r} in {where}{hint}; "
                    "python -m blocks list shows them")


def _check_info(raw, meta: Path) -> BlockInfo:
    if not isinstance(raw, dict):
        raise UserError(f"block metadata {meta} must be a JSON object")
    known = set(BlockInfo.__dataclass_fields__)
    for key in ("target", "model", "area", "side"):
        if key not in raw:
            raise UserError(f"block metadata {meta} lacks {key!r}")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"block metadata {meta} has unknown key {unknown[0]!r}")
    t = raw["target"]
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < 1000:
        raise UserError(f"block metadata {meta}: target must be an ImageNet index 0..999, got {t!r}")
    raw.setdefault("target_name", class_names()[t])
    if raw["target_name"] != class_names()[t]:
        raise UserError(f"block metadata {meta}: target {t} is {class_names()[t]!r}, not {raw['target_name']!r}")
    a = raw["area"]
    if not isinstance(a, (int, float)) or isinstance(a, bool) or not 0 < a <= 1:
        raise UserError(f"block metadata {meta}: area must be in (0, 1], got {a!r}")
    if not isinstance(raw["model"], str):
        raise UserError(f"block metadata {meta}: model must be a name, got {raw['model']!r}")
    s = raw["side"]
    if not isinstance(s, int) or isinstance(s, bool) or s < 2:
        raise UserError(f"block metadata {meta}: side must be an integer ≥ 2, got {s!r}")
    return BlockInfo(**raw)


def load_block(name_or_path: str, model_name: str | None = None, folder: Path | str | None = None) -> Block:
    """Load and validate a block; with `model_name`, refuse a block made for another model."""
    png = resolve(name_or_path, folder)
    meta = png.with_suffix(".json")
    if not png.is_file():
        raise UserError(f"block image {png} does not exist")
    if not meta.is_file():
        raise UserError(f"block metadata {meta} does not exist (every block PNG needs its JSON beside it)")
    try:
        raw = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"block metadata {meta} is not valid JSON ({exc})") from None
    info = _check_info(raw, meta)
    img = cv2.imread(str(png), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"block image {png} cannot be decoded (corrupt or truncated PNG)")
    if img.shape[0] != img.shape[1]:
        raise UserError(f"block image {png} must be square, is {img.shape[1]}×{img.shape[0]}")
    if img.shape[0] != info.side:
        raise UserError(f"block image {png} is {img.shape[0]} px but its metadata says side {info.side}")
    if model_name is not None and info.model != model_name:
        raise UserError(f"block {png} was made for model {info.model!r}, not {model_name!r}")
    return Block(png.stem, to_tensor(img), info, png)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_block(block: torch.Tensor, info: BlockInfo, out: Path | str, name: str) -> Path:
    """Write NAME.png and NAME.json into folder `out` (atomically); returns the PNG path."""
    out = Path(out)
    png = out / f"{name}.png"

    def write_png(tmp):
        if not cv2.imwrite(tmp, to_bgr(block)):
            raise UserError(f"cannot write {png}")
    try:
        _atomic_write(png, write_png)
        _atomic_write(png.with_suffix(".json"),
                      lambda tmp: Path(tmp).write_text(json.dumps(asdict(info), indent=2) + "\n"))
    except OSError as exc:
        raise UserError(f"cannot write block to {out} ({exc.strerror})") from None
    return png

