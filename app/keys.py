"""The keys of the window: ONE table, from which the run loop's actions, the help overlay (`h`), the
`--help` text and the key list in app/__main__.py's docstring are all made (a test checks they agree).

Each action is a plain function of the run's state (`app.run.Loop`): it changes that state, or the pipeline's
controls through their typed methods (`loop.controls`, app.controls), and nothing else reaches for the display,
so every key can be tested without a window. A key with several codes (the digits) gets the code pressed.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Key:
    name: str                     # as printed: "space", "n", "q / Esc"
    codes: tuple[int, ...]        # what cv2.waitKey() returns for it (& 0xFF)
    help: str
    action: Callable[..., None]   # action(loop), or action(loop, code) with `with_code`
    with_code: bool = False


def toggle_block(loop) -> None:
    loop.controls.toggle_block()


def next_block(loop) -> None:
    _cycle(loop, 1)


def previous_block(loop) -> None:
    _cycle(loop, -1)


def _cycle(loop, step: int) -> None:
    block = loop.controls.cycle(step)
    loop.fooled.clear()                 # the rolling rate was the previous block's
    if block is not None:
        loop.say(f"block: {block.name}", 2)


def select_block(loop, code: int) -> None:
    """Digit N: block N of the n / p cycle (1 = the first); beyond the cycle, a short message only."""
    number = code - ord("0")
    block = loop.controls.select(number - 1)
    if block is None:
        count = len(loop.controls.blocks)
        loop.say(f"no block {number}: the cycle has {count}", 2)
        return
    loop.fooled.clear()
    loop.say(f"block {number}: {block.name}", 2)


def toggle_mirror(loop) -> None:
    loop.say("mirror on" if loop.controls.toggle_mirror() else "mirror off", 2)


def toggle_readout(loop) -> None:
    loop.hud.readout = not loop.hud.readout


def toggle_recording(loop) -> None:
    if loop.recorder.active:
        done = loop.recorder.stop()
        loop.say(f"saved {done}", 3)
    else:
        path = Path(loop.settings.record.snapshot_dir) / time.strftime("recording-%Y%m%d-%H%M%S.mp4")
        loop.recorder.start(path, max(1.0, loop.hud.fps or loop.settings.fps))
        loop.say(f"recording to {path}", 3)
    loop.hud.recording = loop.recorder.active


def snapshot(loop) -> None:
    from .record import snapshot as save_png

    if loop.shown is None:              # nothing drawn yet
        return
    path = Path(loop.settings.record.snapshot_dir) / time.strftime("snapshot-%Y%m%d-%H%M%S.png")
    save_png(path, loop.recorder.still(loop.shown))
    loop.say(f"snapshot saved: {path}", 3)


def toggle_fullscreen(loop) -> None:
    loop.fullscreen = not loop.fullscreen
    if loop.window is not None:
        loop.window.set_fullscreen(loop.fullscreen)


def toggle_help(loop) -> None:
    loop.hud.show_help = not loop.hud.show_help


def quit_run(loop) -> None:
    loop.running = False


KEYS = (
    Key("space", (ord(" "),), "block on / off", toggle_block),
    Key("n", (ord("n"),), "next target block", next_block),
    Key("p", (ord("p"),), "previous target block", previous_block),
    Key("1-9", tuple(range(ord("1"), ord("9") + 1)), "jump to that block of the n / p cycle", select_block, True),
    Key("m", (ord("m"),), "mirror left-right (on for cameras)", toggle_mirror),
    Key("r", (ord("r"),), "start / stop recording", toggle_recording),
    Key("s", (ord("s"),), "snapshot PNG", snapshot),
    Key("f", (ord("f"),), "fullscreen", toggle_fullscreen),
    Key("d", (ord("d"),), "hide / show the fps readout and top-3 bars", toggle_readout),
    Key("h", (ord("h"),), "help overlay", toggle_help),
    Key("q / Esc", (ord("q"), 27), "quit", quit_run),
)
BY_CODE = {code: key for key in KEYS for code in key.codes}


def press(loop, code: int) -> None:
    """Do what key `code` (a cv2.waitKey() value) asks; other codes (-1: none pressed) do nothing."""
    key = BY_CODE.get(code & 0xFF) if code >= 0 else None
    if key is not None:
        key.action(loop, code & 0xFF) if key.with_code else key.action(loop)


def help_text(indent: str = "    ") -> str:
    """The key list as printed by `--help` and in app/__main__.py's docstring."""
    width = max(len(k.name) for k in KEYS) + 2
    return "\n".join(f"{indent}{k.name:<{width}}{k.help}" for k in KEYS)
