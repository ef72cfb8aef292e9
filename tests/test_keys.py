"""The key table (app.keys) and every key's action, driven on a headless run (no display needed)."""
import re

import cv2
import numpy as np
import pytest

from app import keys
from app.config import Settings, override
from app.run import Loop, make_pipeline
from app.sinks import Summary
from app.sources import ClipSource
from conftest import PHOTOS, decode_frames

HENS = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (320, 240))


@pytest.fixture(scope="module")
def pipeline():
    return make_pipeline(override(Settings(), {"block.name": "hog", "block.cycle": ["hog", "giant_panda"]}))


@pytest.fixture
def loop(pipeline, tmp_path):
    pipeline.controls.set_enabled(True)
    pipeline.controls.select(0)
    pipeline.controls.set_mirror(False)
    pipeline.smoother.box = None
    settings = override(Settings(), {"ui.headless": True, "record.snapshot_dir": str(tmp_path / "out"),
                                     "size": [320, 240]})
    run = Loop(settings, pipeline, Summary(), headless=True, log=lambda m: None)
    yield run
    run.close()


def show(loop, n=1):
    for _ in range(n):
        loop.show(HENS, loop.pipeline.step(HENS), 0.0, 0.0)


def code(ch):
    return 27 if ch == "Esc" else ord(" ") if ch == "space" else ord(ch)


class FakeWindow:
    """Stands in for app.sinks.Window: records what it is asked and replays key codes."""

    def __init__(self, codes=()):
        self.codes, self.shown, self.fullscreen_calls, self.closed = list(codes), 0, [], False

    def write(self, shown):
        self.shown += 1

    def show(self, canvas):
        self.shown += 1

    def key(self, wait_ms=1):
        return self.codes.pop(0) if self.codes else -1

    def set_fullscreen(self, on):
        self.fullscreen_calls.append(on)

    def close(self):
        pass


# ------------------------------------------------------------------------------------------ the table

def test_every_key_has_one_code_and_the_table_is_the_help():
    codes = [c for k in keys.KEYS for c in k.codes]
    assert len(codes) == len(set(codes))
    assert {k.name for k in keys.KEYS} == {"space", "n", "p", "1-9", "m", "r", "s", "f", "d", "h", "q / Esc"}
    lines = keys.help_text().splitlines()
    assert len(lines) == len(keys.KEYS)
    for k, line in zip(keys.KEYS, lines):
        assert re.fullmatch(rf"\s+{re.escape(k.name)}\s+{re.escape(k.help)}", line)


def test_docstring_and_help_list_the_table(capsys):
    import app.__main__ as main_mod
    assert keys.help_text() in main_mod.__doc__           # the docstring's key list is the table's
    with pytest.raises(SystemExit):
        main_mod.parse_args(["--help"])
    out = capsys.readouterr().out
    assert keys.help_text() in out and out.count("next target block") == 1


def test_unknown_and_no_key_do_nothing(loop):
    def state():
        return loop.controls.snapshot(), loop.hud.show_help, loop.hud.readout, loop.running, loop.fullscreen
    before = state()
    for c in (-1, ord("x"), ord("0"), 255):
        keys.press(loop, c)
    assert state() == before


# ------------------------------------------------------------------------------------------ each key

def test_space_turns_the_block_off_and_on(loop):
    show(loop, 2)                                       # frame 1 finds the hens, frame 2 has the block
    assert loop.shown.result.block is not None
    keys.press(loop, code("space"))
    assert not loop.controls.enabled
    show(loop)
    res = loop.shown.result
    assert res.block is None and res.after == res.before and loop.hud.block_on is False
    keys.press(loop, code("space"))
    show(loop)
    assert loop.shown.result.block is not None and loop.shown.result.block.name == "hog"


def test_n_and_p_step_through_the_blocks(loop):
    show(loop, 2)
    assert loop.fooled                                   # the rolling rate has the hog block's frames
    keys.press(loop, code("n"))
    assert loop.pipeline.block.name == "giant_panda" and not loop.fooled
    assert loop.hud.message == "block: giant_panda"
    show(loop)
    assert loop.shown.result.block.name == "giant_panda" and loop.hud.target == "giant panda"
    keys.press(loop, code("n"))                          # wraps around
    assert loop.pipeline.block.name == "hog"
    keys.press(loop, code("p"))
    assert loop.pipeline.block.name == "giant_panda"


def test_r_starts_and_stops_a_recording(loop, tmp_path):
    show(loop)
    keys.press(loop, code("r"))
    assert loop.recorder.active and loop.hud.recording and loop.hud.message.startswith("recording to ")
    show(loop, 4)
    keys.press(loop, code("r"))
    assert not loop.recorder.active and not loop.hud.recording
    (path,) = loop.summary.outputs
    assert path.endswith(".mp4") and loop.hud.message == f"saved {path}"
    frames = decode_frames(path)
    from app.kiosk_view import recording_size

    # the clean style: drawn at the video width (record.video_width), not the window's canvas size
    assert len(frames) == 4 and frames[0].shape[1::-1] == recording_size(1280, (640, 480))


def test_s_saves_the_clean_view_as_png(loop, tmp_path):
    """`s` saves what a recording shows (no readout, help or messages, at record.video_width); the screen style
    saves the canvas as shown."""
    from app.kiosk_view import recording_size

    keys.press(loop, code("s"))                          # nothing drawn yet: nothing saved
    assert not (tmp_path / "out").exists()
    show(loop)
    keys.press(loop, code("h"))                          # help and a message on screen: not in the snapshot
    show(loop)
    keys.press(loop, code("s"))
    (png,) = (tmp_path / "out").glob("snapshot-*.png")
    saved = cv2.imread(str(png))
    assert loop.hud.message == f"snapshot saved: {png}"
    assert saved.shape[1::-1] == recording_size(1280, (320, 240))
    again = loop.recorder.still(loop.shown)              # drawn anew from the same frame: the same image
    assert np.array_equal(saved, again)
    loop.hud.readout = False                             # the readout off on screen changes nothing in it
    assert np.array_equal(loop.recorder.still(loop.shown), saved)
    png.unlink()
    loop.recorder.settings = override(loop.settings, {"record.style": "screen"})
    show(loop)
    keys.press(loop, code("s"))
    (png,) = (tmp_path / "out").glob("snapshot-*.png")
    assert np.array_equal(cv2.imread(str(png)), loop.canvas)


def test_f_toggles_fullscreen_on_the_window(loop):
    keys.press(loop, code("f"))                          # headless: only the state changes
    assert loop.fullscreen
    loop.window = FakeWindow()
    keys.press(loop, code("f"))
    keys.press(loop, code("f"))
    assert loop.window.fullscreen_calls == [False, True] and loop.fullscreen


def test_h_toggles_the_help_overlay(loop):
    show(loop)
    plain = loop.canvas
    keys.press(loop, code("h"))
    assert loop.hud.show_help
    show(loop)
    with_help = loop.canvas
    keys.press(loop, code("h"))
    assert not loop.hud.show_help
    differs = np.any(plain != with_help, axis=2)
    h, w = differs.shape
    assert differs[h // 3:2 * h // 3, w // 3:2 * w // 3].mean() > 0.1      # a panel over the middle


@pytest.mark.parametrize("key", ["q", "Esc"])
def test_q_and_esc_quit_the_loop(loop, key):
    keys.press(loop, code(key))
    assert not loop.running
    loop.running = True
    frames = [HENS] * 20
    loop.window = FakeWindow([-1, -1, code(key)])       # pressed while the 3rd frame is on screen
    loop.sinks.append(loop.window)
    loop.play(ClipSource("clip", lambda: iter(frames), len(frames)))
    assert loop.summary.frames == 3 and loop.window.shown == 3 and not loop.running


def test_closing_the_window_quits(loop):
    loop.window = FakeWindow()
    loop.sinks.append(loop.window)
    loop.window.closed = True
    loop.play(ClipSource("clip", lambda: iter([HENS] * 10), 10))
    assert loop.summary.frames == 1


def test_digits_jump_to_that_block_of_the_cycle(loop):
    show(loop, 2)
    keys.press(loop, code("2"))
    assert loop.pipeline.block.name == "giant_panda" and not loop.fooled
    assert loop.hud.message == "block 2: giant_panda"
    show(loop)
    assert loop.shown.result.block.name == "giant_panda"
    keys.press(loop, code("1"))
    assert loop.pipeline.block.name == "hog" and loop.hud.message == "block 1: hog"
    keys.press(loop, code("9"))                          # beyond the cycle: nothing but a short message
    assert loop.pipeline.block.name == "hog" and loop.hud.message == "no block 9: the cycle has 2"


def test_m_mirrors_the_frame_before_classification(loop):
    frames = [HENS] * 3
    loop.play(ClipSource("clip", lambda: iter(frames), len(frames)))
    plain_box = loop.shown.result.box
    assert np.array_equal(loop.shown.frame, HENS)
    keys.press(loop, code("m"))
    assert loop.controls.mirror and loop.hud.message == "mirror on"
    loop.play(ClipSource("clip", lambda: iter(frames), len(frames)))
    frame, res = loop.shown.frame, loop.shown.result
    assert np.array_equal(frame, cv2.flip(HENS, 1))                  # the left pane is the mirrored frame
    x, y, w, h = res.box                                              # the box and the paste are on it too
    outside = np.ones(frame.shape[:2], bool)
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(res.after_frame[outside], frame[outside])
    assert abs((x + w / 2) - (320 - (plain_box[0] + plain_box[2] / 2))) < 24   # the box moved with the animal
    keys.press(loop, code("m"))
    assert not loop.controls.mirror and loop.hud.message == "mirror off"


def test_d_hides_and_shows_the_readout(loop):
    assert loop.hud.readout
    keys.press(loop, code("d"))
    assert not loop.hud.readout
    keys.press(loop, code("d"))
    assert loop.hud.readout


def test_every_key_pressed_since_the_last_frame_is_handled(loop):
    """`h h` typed quickly within one frame: help on, then off again (before, the 2nd h waited a frame)."""
    loop.window = FakeWindow([code("h"), code("h"), code("n")])
    loop.sinks.append(loop.window)
    loop.play(ClipSource("clip", lambda: iter([HENS]), 1))
    assert not loop.hud.show_help and loop.pipeline.block.name == "giant_panda" and not loop.window.codes


def test_a_burst_of_keys_is_handled_a_few_per_frame(loop):
    from app.run import KEYS_PER_FRAME
    loop.window = FakeWindow([code("n")] * (KEYS_PER_FRAME + 1))
    loop.sinks.append(loop.window)
    loop.play(ClipSource("clip", lambda: iter([HENS]), 1))
    assert len(loop.window.codes) == 1                   # the rest waits for the next frame


def test_the_help_hint_is_on_in_a_window_only(pipeline, monkeypatch):
    import app.run as run_mod
    monkeypatch.setattr(run_mod, "LetterboxWindow", lambda fullscreen: FakeWindow())
    settings = override(Settings(), {"size": [320, 240]})
    headless = Loop(settings, pipeline, Summary(), headless=True, log=lambda m: None)
    windowed = Loop(settings, pipeline, Summary(), headless=False, log=lambda m: None)
    assert not headless.hud.hint and windowed.hud.hint
    headless.close()
    windowed.close()
