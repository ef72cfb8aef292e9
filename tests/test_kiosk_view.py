"""The kiosk screen drawn headless: layout at the display's size, labels readable from 3 m."""
import cv2
import numpy as np
import pytest

from app.kiosk_view import BG, kiosk_layout, render_kiosk
from app.render import Hud, Pred
from conftest import PHOTOS

SCREENS = [(1920, 1080), (1280, 720), (3840, 2160)]
HEN = Pred(8, "hen", 0.94, [("hen", 0.94), ("cock", 0.03), ("partridge", 0.01)], True)
HOG = Pred(341, "hog", 0.62, [("hog", 0.62), ("hen", 0.2), ("boar", 0.05)], True)


@pytest.fixture(scope="module")
def frame():
    return cv2.resize(cv2.imread(str(PHOTOS / "hens.jpg")), (640, 480))


def _ink_rows(img, rect, thresh=200):
    """Rows of `rect` holding near-white text pixels: the tallest run's height in pixels."""
    x, y, w, h = rect
    rows = (img[y:y + h, x:x + w].min(axis=2) >= thresh).any(axis=1)
    best = run = 0
    for r in rows:
        run = run + 1 if r else 0
        best = max(best, run)
    return best


@pytest.mark.parametrize("screen", SCREENS)
def test_layout_fills_a_16_9_screen_side_by_side(screen):
    k = kiosk_layout(screen, (640, 480))
    W, H = screen
    assert k.layout == "side_by_side"
    assert 0.64 <= k.coverage <= 0.70                   # measured 0.662-0.664; stacked would give 0.09
    assert kiosk_layout(screen, (640, 480), "stacked").coverage < 0.1
    (x0, y0, w0, h0), (x1, y1, w1, h1) = k.panes
    assert abs(w0 / h0 - 4 / 3) < 0.01 and (w0, h0, y0) == (w1, h1, y1)
    assert x0 >= 0 and x0 + w0 < x1 and x1 + w1 <= W and w0 >= 0.49 * W    # the panes use the full width
    for (_, cy, cw, ch), (_, py, pw, _) in zip(k.cards, k.panes):
        assert cy + ch == py and cy >= k.header[3] and cw == pw
    assert y0 + h0 <= k.strip[1] and k.strip[1] + k.strip[3] == H


def test_layout_stacks_on_a_portrait_screen():
    k = kiosk_layout((1080, 1920), (640, 480))
    assert k.layout == "stacked" and k.coverage > 0.45
    assert k.coverage > kiosk_layout((1080, 1920), (640, 480), "side_by_side").coverage


@pytest.mark.parametrize("screen", SCREENS)
def test_render_is_screen_sized_with_a_label_at_least_a_twelfth_of_the_height(frame, screen):
    W, H = screen
    img = render_kiosk(frame, frame, HEN, HEN, (100, 100, 200, 200), Hud(target="hog"), screen, "Explained.")
    assert img.shape == (H, W, 3)
    k = kiosk_layout(screen, (640, 480))
    label = _ink_rows(img, k.cards[0])                   # "hen 94%": no descenders, white on the card
    assert label >= H / 12, (label, H)
    assert label <= H / 12 * 1.25


def test_a_long_name_shrinks_to_its_card_and_the_probability_moves_up(frame):
    long = Pred(215, "German short-haired pointer", 0.5, [], True)
    img = render_kiosk(frame, frame, long, long, None, Hud(target="hog"), (1280, 720))
    k = kiosk_layout((1280, 720), (640, 480))
    x, y, w, h = k.cards[0]
    ink = img[y:y + h, x:x + w].min(axis=2) >= 200
    cols = np.nonzero(ink.any(axis=0))[0]
    assert cols.max() < w - 4                            # inside its card, not over the other one
    assert _ink_rows(img, k.cards[0]) < 720 / 12         # smaller than the usual size: it had to shrink


def test_explanation_strip_and_lost_overlay(frame):
    screen = (1280, 720)
    k = kiosk_layout(screen, (640, 480))
    x, y, w, h = k.strip
    plain = render_kiosk(frame, frame, HEN, HOG, None, Hud(target="hog"), screen, "")
    told = render_kiosk(frame, frame, HEN, HOG, None, Hud(target="hog"), screen, "Right: the same frame.")
    assert (plain[y:y + h] == BG).all()
    assert (told[y:y + h].min(axis=2) >= 200).sum() > 200
    lost = render_kiosk(frame, frame, HEN, HOG, None, Hud(target="hog", lost=True), screen)
    px, py, pw, ph = k.panes[0]
    assert lost[py:py + ph, px:px + pw].mean() < 0.6 * plain[py:py + ph, px:px + pw].mean()


def test_fooled_after_label_is_marked(frame):
    k = kiosk_layout((1920, 1080), (640, 480))
    img = render_kiosk(frame, frame, HEN, HOG, None, Hud(target="hog"), (1920, 1080))
    x, y, w, h = k.cards[1]
    card = img[y:y + h, x:x + w].astype(int)
    red = (card[..., 2] > 200) & (card[..., 1] < 110) & (card[..., 0] < 110)     # ACCENT (BGR 60, 70, 240)
    assert red.sum() > 2000


def test_help_overlay_shows_on_the_kiosk_screen_too(frame):
    screen = (1280, 720)
    plain = render_kiosk(frame, frame, HEN, HEN, None, Hud(target="hog"), screen)
    helped = render_kiosk(frame, frame, HEN, HEN, None, Hud(target="hog", show_help=True), screen)
    k = kiosk_layout(screen, (640, 480))
    px, py, pw, ph = k.panes[0]
    changed = (plain != helped).any(axis=2)
    assert changed[py:py + ph, px:px + pw].mean() > 0.05
    assert not changed[:k.header[3]].any() and not changed[k.strip[1]:].any()     # header and strip stay
