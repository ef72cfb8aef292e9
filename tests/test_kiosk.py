"""Kiosk mode headless: the state machine on a fake clock, the attract feed, the settings."""
import numpy as np
import pytest

from app.config import KioskSettings, load_settings
from app.kiosk import AttractFeed, Kiosk
from app.sources import Source
from models import UserError


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _kiosk(can_attract=True, **kw):
    clock = Clock()
    return Kiosk(KioskSettings(enabled=True, **kw), can_attract, clock), clock


def _run(kiosk, clock, seconds, dt=0.125, seen=None):
    """Tick every dt for `seconds`; `seen(t)` says whether the camera frame at t shows an animal."""
    acts = []
    for _ in range(round(seconds / dt)):
        clock.t += dt
        a = kiosk.tick()
        acts.append(a)
        if seen is not None and (not a.attract or a.probe):
            kiosk.saw(seen(clock.t))
    return acts


def test_attract_starts_after_n_seconds_without_an_animal_and_stays_while_none():
    k, c = _kiosk(attract_after_s=10)
    acts = _run(k, c, 10, seen=lambda t: False)              # ticks at 0, 0.125, ... 9.875 s
    assert not any(a.attract for a in acts)
    acts = _run(k, c, 30, seen=lambda t: False)
    assert all(a.attract for a in acts)
    assert sum(a.probe for a in acts) == 59                     # a camera frame every 0.5 s from 10.5 to 39.5 s


def test_an_animal_keeps_the_camera_on_and_brings_it_back():
    k, c = _kiosk(attract_after_s=10)
    acts = _run(k, c, 60, seen=lambda t: True)
    assert not any(a.attract for a in acts)
    _run(k, c, 10.5, seen=lambda t: False)
    assert k.attracting
    acts = _run(k, c, 1, seen=lambda t: True)                   # the animal is back: two probes in a row
    assert acts[-1].attract and sum(a.probe for a in acts) == 2 and not k.attracting
    acts = _run(k, c, 9.875, seen=lambda t: False)              # and gets the full time again before attract
    assert not any(a.attract for a in acts)


def test_one_stray_probe_does_not_end_the_attract_loop():
    k, c = _kiosk(attract_after_s=5)
    _run(k, c, 6, seen=lambda t: False)
    flip = iter([True, False] * 100)                            # every other probe sees an "animal"
    acts = _run(k, c, 20, seen=lambda t: next(flip))
    assert all(a.attract for a in acts)


def test_a_lost_camera_leads_to_the_attract_loop_too():
    k, c = _kiosk(attract_after_s=3)
    acts = _run(k, c, 5)                                        # no frame classified at all
    assert not acts[0].attract and acts[-1].attract


def test_no_attract_without_a_camera_or_when_disabled():
    for k, c in (_kiosk(can_attract=False, attract_after_s=3), _kiosk(attract_after_s=0)):
        assert not any(a.attract or a.probe for a in _run(k, c, 60, seen=lambda t: False))


def test_auto_cycle_every_n_seconds():
    k, c = _kiosk(cycle_s=8)
    acts = _run(k, c, 60)
    times = [i * 0.125 for i, a in enumerate(acts) if a.next_block]        # seconds after the first tick
    assert times == [8, 16, 24, 32, 40, 48, 56]
    assert not any(a.next_block for a in _run(*_kiosk(cycle_s=0), 60))


def test_rhythm_switches_the_block_on_and_off_only_at_its_edges():
    k, c = _kiosk(block_on_s=6, block_off_s=3)
    acts = _run(k, c, 26.5)
    edges = [(i * 0.125, a.block_on) for i, a in enumerate(acts) if a.block_on is not None]
    assert edges == [(0, True), (6, False), (9, True), (15, False), (18, True), (24, False)]
    assert not any(a.block_on is not None for a in _run(*_kiosk(), 30))


class _Src(Source):
    def __init__(self, value, live=False):
        self.value, self.live, self.name, self.lost = value, live, f"src{value}", False
        self.closed = False

    def read(self, timeout=1.0):
        return np.full((2, 2, 3), self.value, np.uint8)

    def close(self):
        self.closed = True


def test_attract_feed_switches_sources_and_hides_a_lost_camera_while_attracting():
    cam, clip = _Src(1, live=True), _Src(2)
    feed = AttractFeed(cam, clip)
    assert feed.live and feed.read()[0, 0, 0] == 1
    cam.lost = True
    assert feed.lost
    feed.attracting = True
    assert feed.read()[0, 0, 0] == 2 and not feed.lost
    assert feed.camera_frame()[0, 0, 0] == 1
    feed.close()
    assert cam.closed and clip.closed


@pytest.mark.parametrize("text, words", [
    ("ui:\n  kiosk:\n    attract_after: 5\n", ["ui.kiosk.attract_after", "did you mean 'ui.kiosk.attract_after_s'"]),
    ("ui:\n  kiosk:\n    cycle_s: -1\n", ["ui.kiosk.cycle_s", "out of range"]),
    ("ui:\n  kiosk:\n    block_on_s: 5\n", ["block_on_s", "block_off_s", "both"]),
    ("ui:\n  kiosk:\n    screen: [1920, 10]\n", ["ui.kiosk.screen", "[1920, 10]"]),
    ("ui:\n  kiosk:\n    enabled: yes please\n", ["ui.kiosk.enabled", "true or false"]),
    ("ui:\n  kiosk: true\n", ["ui.kiosk must be a mapping"]),
])
def test_bad_kiosk_settings_name_the_key(tmp_path, text, words):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as e:
        load_settings(p)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_kiosk_settings_load(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("ui:\n  kiosk:\n    enabled: true\n    text: Hello\n    block_on_s: 4\n    block_off_s: 2\n"
                 "    screen: [1280, 720]\n")
    k = load_settings(p).ui.kiosk
    assert (k.enabled, k.text, k.block_on_s, k.block_off_s, k.screen) == (True, "Hello", 4.0, 2.0, (1280, 720))


def test_kiosk_plays_the_sample_while_the_camera_sees_no_animal_and_returns_for_one():
    """End to end, headless, with a camera (app.sources.CameraSource over a stand-in capture) that first
    films fruit, then, once the attract loop has played a while, a bison."""
    import time

    import cv2

    from app.config import Settings, override
    from app.run import run
    from app.sources import CameraSource
    from conftest import PHOTOS

    fruit, bison = (cv2.resize(cv2.imread(str(PHOTOS / n)), (320, 240)) for n in ("fruits.jpg", "bison.jpg"))
    filmed = {"image": fruit}

    class Capture:
        def isOpened(self):
            return True

        def read(self):
            time.sleep(0.02)
            return True, filmed["image"].copy()

        def release(self):
            pass

    labels, times = [], []
    booth = {"t": 0.0}                              # the kiosk's clock: 1/30 s a frame, however fast they come

    def on_frame(i, res):
        labels.append(res.before.name)
        times.append(booth["t"])
        booth["t"] += 1 / 30
        if labels.count("hen") == 20:               # the sample (hens first) has played for a while
            filmed["image"] = bison

    settings = override(Settings(), {"ui.headless": True, "ui.kiosk.enabled": True, "ui.kiosk.attract_after_s": 1.0,
                                     "max_frames": 150})
    run(settings, log=lambda m: None, on_frame=on_frame, source=CameraSource(0, opener=Capture),
        clock=lambda: booth["t"])
    first_hen = labels.index("hen")
    assert set(labels[:first_hen]) == {"lemon"} and first_hen >= 1           # the camera's fruit first,
    assert 1.0 <= times[first_hen] <= 1.5                                     # for the 1 s asked for
    assert labels[-30:] == ["bison"] * 30, labels                             # the camera is back for the bison
    assert "bison" not in labels[:first_hen + 20]


def test_the_strip_says_so_while_the_block_is_off():
    import cv2

    from app.config import Settings, override
    from app.frame import FrameResult, Pred
    from app.kiosk import KioskMode
    from app.kiosk_view import kiosk_layout
    from app.render import Hud
    from conftest import PHOTOS

    settings = override(Settings(), {"ui.kiosk.enabled": True, "ui.kiosk.screen": [1280, 720],
                                     "ui.kiosk.text": "Block on.", "ui.kiosk.text_off": "Block off now."})
    mode = KioskMode(settings, _Src(0))
    assert mode.source is not None and mode.feed is None          # a file: no attract loop to switch to
    frame = cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (640, 480))
    hen = Pred(8, "hen", 0.9, [("hen", 0.9)], True)
    res = FrameResult(hen, hen, frame, None, None, None)
    pasted = FrameResult(hen, hen, frame, [10, 10, 100, 100], _Block(341), 0.1)
    on = mode.draw(frame, pasted, Hud(target="hog", block_on=True))
    off = mode.draw(frame, res, Hud(target="hog", block_on=False))
    idle = mode.draw(frame, res, Hud(target="hog", block_on=True))     # on, but nothing in view to paste it on
    x, y, w, h = kiosk_layout((1280, 720), (640, 480)).strip
    assert on.shape == (720, 1280, 3)
    ink_on, ink_off, ink_idle = ((img[y:y + h].min(axis=2) >= 200).sum() for img in (on, off, idle))
    assert ink_off > 1.2 * ink_on                                  # "Block off now." is the longer line
    assert ink_idle > 3 * ink_off                                  # the call to action, a long sentence


def test_the_strip_follows_the_state():
    from app.kiosk_view import strip_text
    from app.render import Hud

    k = KioskSettings(text="on", text_off="off", text_idle="show it an animal")
    assert strip_text(Hud(target="hog"), True, k) == "on"
    assert strip_text(Hud(target="hog"), False, k) == "show it an animal"      # no animal: a call to action
    assert strip_text(Hud(target="hog", any_object=True), False, k) == "show it something"
    assert strip_text(Hud(target="hog", block_on=False), False, k) == "off"
    assert strip_text(Hud(target="hog", block_on=False), True, k) == "off"


class _Block:
    name = "hog"

    def __init__(self, target):
        self.info = type("Info", (), {"target": target, "target_name": "hog"})()


def test_long_labels_keep_the_percentage_on_the_card():
    """A long class name shrinks or is cut, and its percentage stays on the name line inside the card, clear of
    the next card."""
    from app.frame import Pred
    from app.kiosk_view import _draw_card

    def pct_column(name):
        img = np.zeros((200, 640, 3), np.uint8)
        _draw_card(img, (0, 0, 640, 200), "BEFORE", (170, 170, 170), Pred(8, name, 0.94, [(name, 0.94)]),
                   (255, 255, 255), 720, False)
        cols = np.nonzero(img[100:].max(axis=(0, 2)) > 0)[0]
        return cols.max()

    short, long_ = pct_column("hen"), pct_column("German short-haired pointer, very long indeed")
    assert short < 400                                             # "hen 94%": the percentage beside the name
    assert 560 < long_ <= 640 - 0.02 * 720                         # the long one fills the card, not beyond it
