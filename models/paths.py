"""Where the project keeps what it can make again: the user cache (ONNX exports, decoded photos, CAM boxes)."""
from __future__ import annotations

import os
from pathlib import Path


def user_cache() -> Path:
    """$XDG_CACHE_HOME/chicken-saviour, else ~/.cache/chicken-saviour."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "chicken-saviour"
