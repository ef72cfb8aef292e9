"""ImageNet-1k class names, the animal range, the chickens, and lookup by name or index."""
from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

from .errors import UserError

NUM_CLASSES = 1000
ANIMALS = range(0, 398)          # ImageNet classes 0..397 are animals
CHICKENS = (7, 8)                # cock, hen


@cache
def synonyms() -> tuple[tuple[str, ...], ...]:
    """Every class's WordNet synonyms, e.g. ('hog', 'pig', 'grunter', 'squealer', 'Sus scrofa')."""
    lines = (Path(__file__).with_name("imagenet_classes.txt")).read_text(encoding="utf-8").splitlines()
    assert len(lines) == NUM_CLASSES, "models/imagenet_classes.txt must have 1000 lines"
    return tuple(tuple(s.strip() for s in line.split(",")) for line in lines)


@cache
def class_names() -> tuple[str, ...]:
    """Display names: the first synonym of each class ('hen', 'hog', 'giant panda')."""
    return tuple(s[0] for s in synonyms())


def is_animal(index: int) -> bool:
    return index in ANIMALS


def slug(index: int) -> str:
    """File-friendly name of a class: 'giant panda' -> 'giant_panda'."""
    return class_names()[index].replace(" ", "_").replace("'", "").lower()


def class_index(name_or_index: str | int) -> int:
    """Resolve 'hog', 'Hog', 'pig', 'giant_panda', 341 or '341' to a class index.

    The display name wins over a synonym (so 'crane' is the bird, 134, before the machine, 517).
    Unknown names raise UserError with the closest names as a hint.
    """
    if isinstance(name_or_index, int) or (isinstance(name_or_index, str) and name_or_index.strip().isdigit()):
        index = int(name_or_index)
        if not 0 <= index < NUM_CLASSES:
            raise UserError(f"class index {index} is out of range 0..{NUM_CLASSES - 1}")
        return index
    if not isinstance(name_or_index, str) or not name_or_index.strip():
        raise UserError(f"class name must be a non-empty string, got {name_or_index!r}")
    key = name_or_index.strip().replace("_", " ").lower()
    names = [n.lower() for n in class_names()]
    if key in names:
        return names.index(key)
    for i, syns in enumerate(synonyms()):
        if key in (s.lower() for s in syns):
            return i
    hint = difflib.get_close_matches(key, names, n=3)
    more = f" (did you mean {', '.join(repr(h) for h in hint)}?)" if hint else ""
    raise UserError(f"unknown ImageNet class {name_or_index!r}{more}")
