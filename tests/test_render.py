"""Tests for app/render.py (pure drawing, no windows)."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from app.render import (
    ACCENT,
    HEADER_H,
    KEYS,
    OK_GREEN,
    SEP,
    Hud,
    Pred,
    ascii_text,
    blend_rect,
    canvas_size,
    draw_bars,
    fit_text,
    render,
)

GREY_LEVEL = 100
BOX = (300, 200, 80, 60)


def frame(w=640, h=480, level=GREY_LEVEL):
    return np.full((h, w, 3), level, np.uint8)


INDEX = {"hen": 8, "hog": 341, "albatross": 146, "ostrich": 9}


def preds(before="hen", after="hog"):
    pb = Pred(INDEX.get(before, 500), before, 0.94, [(before, 0.94), ("cock", 0.05), ("partridge", 0.01)])
    pa = Pred(INDEX.get(after, 501), after, 0.97, [(after, 0.97), ("wild boar", 0.02), (before, 0.01)])
    return pb, pa


def hud(**kw):
    base = dict(target="hog", fps=29.9, latency_ms=12.3, fooled=0.8)
    base.update(kw)
    return Hud(**base)


def pane_origins(layout, pw, ph):
    """(row, col) of the top-left of the before and after panes in the canvas."""
    if layout == "stacked":
        return (HEADER_H, 0), (HEADER_H + ph + SEP, 0)
    return (HEADER_H, 0), (HEADER_H, pw + SEP)


# ---------------------------------------------------------------------------------------------- shapes

@pytest.mark.parametrize("layout", ["side_by_side", "stacked"])
@pytest.mark.parametrize("size,pane_width,pane", [
    ((640, 480), None, (640, 480)),
    ((640, 480), 320, (320, 240)),
    ((640, 480), 800, (800, 600)),
    ((1280, 720), 640, (640, 360)),
])
def test_canvas_shape(layout, size, pane_width, pane):
    pb, pa = preds()
    out = render(frame(*size), frame(*size), pb, pa, None, hud(), layout=layout, pane_width=pane_width)
    pw, ph = pane
    if layout == "side_by_side":
        expected = (HEADER_H + ph, 2 * pw + SEP, 3)
    else:
        expected = (HEADER_H + 2 * ph + SEP, pw, 3)
    assert out.shape == expected
    assert out.dtype == np.uint8
    assert canvas_size((size[1], size[0], 3), layout, pane_width) == (expected[1], expected[0])
    assert 24 <= HEADER_H <= 48


def test_bad_layout_and_mismatched_frames_raise():
    pb, pa = preds()
    with pytest.raises(ValueError):
        render(frame(), frame(), pb, pa, None, hud(), layout="diagonal")
    with pytest.raises(ValueError):
        render(frame(), frame(320, 240), pb, pa, None, hud())


def test_panes_hold_the_frames():
    """Pane interiors away from any overlay are the input frames, before left / after right."""
    pb, pa = preds()
    before, after = frame(level=40), frame(level=200)
    for layout in ("side_by_side", "stacked"):
        out = render(before, after, pb, pa, None, hud(), layout=layout)
        (r1, c1), (r2, c2) = pane_origins(layout, 640, 480)
        assert (out[r1 + 240, c1 + 500] == 40).all()
        assert (out[r2 + 240, c2 + 500] == 200).all()


def test_inputs_not_modified():
    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    after = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    b0, a0 = before.copy(), after.copy()
    pb, pa = preds()
    top_b = list(pb.top)
    h = hud(recording=True, lost=True, show_help=True, message="snapshot saved: out/snap-001.png")
    for layout, pwid in [("side_by_side", None), ("stacked", 320), ("side_by_side", 800)]:
        out = render(before, after, pb, pa, BOX, h, layout=layout, pane_width=pwid)
        assert not np.shares_memory(out, before) and not np.shares_memory(out, after)
    assert np.array_equal(before, b0)
    assert np.array_equal(after, a0)
    assert pb.top == top_b and pb.name == "hen"


# ---------------------------------------------------------------------------------------------- box

def _outline_check(diff_pane, box, band=3):
    """All changed pixels lie within `band` px of the box outline; most outline pixels changed."""
    x, y, w, h = box
    ys, xs = np.nonzero(diff_pane)
    assert len(ys) > 0, "box not drawn"
    inside_outer = (xs >= x - band) & (xs <= x + w - 1 + band) & (ys >= y - band) & (ys <= y + h - 1 + band)
    inside_inner = (xs > x + band) & (xs < x + w - 1 - band) & (ys > y + band) & (ys < y + h - 1 - band)
    assert np.all(inside_outer & ~inside_inner), "pixels changed away from the box outline"
    # sample the outline itself
    edge = [(y, x + i) for i in range(w)] + [(y + h - 1, x + i) for i in range(w)] + \
           [(y + j, x) for j in range(h)] + [(y + j, x + w - 1) for j in range(h)]
    hit = sum(bool(diff_pane[r, c]) for r, c in edge)
    assert hit >= 0.9 * len(edge)


@pytest.mark.parametrize("layout", ["side_by_side", "stacked"])
@pytest.mark.parametrize("pane_width", [None, 320])
def test_box_drawn_on_both_panes_and_nowhere_else(layout, pane_width):
    pb, pa = preds()
    f = frame()
    no_box = render(f, f, pb, pa, None, hud(), layout=layout, pane_width=pane_width)
    with_box = render(f, f, pb, pa, BOX, hud(), layout=layout, pane_width=pane_width)
    s = 1.0 if pane_width is None else pane_width / 640
    pw, ph = int(640 * s), int(480 * s)
    box = tuple(int(round(v * s)) for v in BOX)
    diff = np.any(no_box != with_box, axis=2)
    assert not diff[:HEADER_H].any(), "header changed by the box"
    for r, c in pane_origins(layout, pw, ph):
        _outline_check(diff[r:r + ph, c:c + pw], box)
        # the pane interior far from the box, labels and bars is the untouched frame
        for (yy, xx) in [(int(ph * 0.35), int(pw * 0.85)), (int(ph * 0.7), int(pw * 0.9)),
                         (int(ph * 0.55), int(pw * 0.2))]:
            assert (with_box[r + yy, c + xx] == GREY_LEVEL).all()
    # an on-frame pixel on the box edge really differs from the frame value
    r, c = pane_origins(layout, pw, ph)[1]
    assert (with_box[r + box[1] + box[3] // 2, c + box[0]] != GREY_LEVEL).any()


def test_box_partly_outside_frame_is_clipped_to_it():
    """A box running off the top right is drawn where it is visible (its left edge, its bottom edge) and
    nowhere else: nothing wraps around to the other side of the pane."""
    pb, pa = preds()
    f = frame()
    x, y, w, h = 600, -20, 200, 100                       # visible: columns 600..639, rows 0..79
    diff = np.any(render(f, f, pb, pa, (x, y, w, h), hud()) != render(f, f, pb, pa, None, hud()), axis=2)
    for r, c in pane_origins("side_by_side", 640, 480):
        pane = diff[r:r + 480, c:c + 640]
        assert pane[5:70, x - 1:x + 2].any(axis=1).all()           # the left edge, all the way down
        assert pane[y + h - 3:y + h + 2, x + 5:635].any(axis=0).all()   # the bottom edge, to the pane's side
        ys, xs = np.nonzero(pane)
        assert xs.min() >= x - 3 and ys.max() <= y + h + 2


# ---------------------------------------------------------------------------------------------- overlays

def test_help_overlay_changes_panes_not_header():
    pb, pa = preds()
    f = frame()
    off = render(f, f, pb, pa, BOX, hud(show_help=False))
    on = render(f, f, pb, pa, BOX, hud(show_help=True))
    assert np.array_equal(off[:HEADER_H], on[:HEADER_H])
    diff = np.any(off != on, axis=2)
    assert diff.sum() > 5000
    H, W = on.shape[:2]
    cy, cx = HEADER_H + (H - HEADER_H) // 2, W // 2
    assert diff[cy - 5:cy + 5, cx - 5:cx + 5].any(), "help panel not centred"
    assert not diff[HEADER_H + 240, 100], "help panel covers far-left of the before pane"


def test_lost_overlay_darkens_panes():
    pb, pa = preds()
    f = frame(level=180)
    off = render(f, f, pb, pa, None, hud())
    on = render(f, f, pb, pa, None, hud(lost=True))
    panes_off = off[HEADER_H:].astype(float).mean()
    panes_on = on[HEADER_H:].astype(float).mean()
    assert panes_on < 0.6 * panes_off
    assert not np.array_equal(off[:HEADER_H], on[:HEADER_H]), "header should flag the lost camera"
    # centred text: bright pixels in the middle band of the darkened panes
    H = on.shape[0]
    mid = on[HEADER_H + (H - HEADER_H) // 2 - 20: HEADER_H + (H - HEADER_H) // 2 + 20]
    assert (mid.max(axis=2) > 200).sum() > 200


def test_message_line_at_bottom():
    f = frame()
    pb, pa = Pred(8, "hen", 0.9, []), Pred(8, "hen", 0.9, [])     # no bar charts: only the strip changes
    off = render(f, f, pb, pa, None, hud())
    on = render(f, f, pb, pa, None, hud(message="snapshot saved: out/snap-001.png"))
    assert on.shape == off.shape
    diff = np.any(off != on, axis=2)
    rows = np.nonzero(diff.any(axis=1))[0]
    H, W = on.shape[:2]
    assert len(rows) and rows.min() >= H - 40 and rows.max() == H - 1
    assert diff[H - 1, W - 5], "strip should span the canvas width"
    # with bar charts, they move up above the strip instead of being covered by it
    pb, pa = preds()
    off = render(f, f, pb, pa, None, hud())
    on = render(f, f, pb, pa, None, hud(message="hi"))
    strip_h = H - rows.min()
    moved = np.any(off[:H - strip_h] != on[:H - strip_h], axis=2)
    assert moved[:, :300].any() and moved[:, 640 + SEP:640 + SEP + 300].any()
    assert not moved[:, 300:640].any()


def test_recording_dot_is_red_in_header():
    pb, pa = preds()
    f = frame()
    on = render(f, f, pb, pa, None, hud(recording=True))
    off = render(f, f, pb, pa, None, hud(recording=False))
    hdr = on[:HEADER_H].astype(int)
    red = (hdr[..., 2] > 180) & (hdr[..., 1] < 90) & (hdr[..., 0] < 90)
    assert red[:, on.shape[1] // 2:].sum() > 50
    assert not np.array_equal(on[:HEADER_H], off[:HEADER_H])


def _label_card(canvas, layout="side_by_side"):
    (r, c) = pane_origins(layout, 640, 480)[1]
    return canvas[r:r + 80, c:c + 320].astype(int)


def test_after_label_colour_fooled_vs_unchanged():
    f = frame()
    pb, pa = preds("hen", "hog")
    fooled = _label_card(render(f, f, pb, pa, None, hud()))
    pb2, pa2 = preds("hen", "hen")
    same = _label_card(render(f, f, pb2, pa2, None, hud()))

    def reddish(a):
        return ((a[..., 2] > 200) & (a[..., 1] < 120)).sum()

    def greenish(a):
        return ((a[..., 1] > 190) & (a[..., 2] < 140)).sum()

    assert reddish(fooled) > 100 and greenish(fooled) < 10
    assert greenish(same) > 100 and reddish(same) < 10


# ---------------------------------------------------------------------------------------------- robustness

LONG = "Pembroke Welsh corgi, an extraordinarily long class name \u2014 tr\u00e8s long indeed \u2026 " * 3


@pytest.mark.parametrize("size", [(160, 120), (64, 48), (8, 6), (1, 1)])
@pytest.mark.parametrize("layout", ["side_by_side", "stacked"])
def test_tiny_frames_and_long_names_do_not_crash(size, layout):
    pb = Pred(1, LONG, 1.0, [(LONG, 1.0), ("x", 0.0), ("y", 0.0)], is_animal=False)
    pa = Pred(2, LONG + "2", 0.0, [(LONG, float("nan")), ("z" * 200, -0.5), ("w", 1.7)])
    h = Hud(target=LONG, block_on=True, device="cuda:0", backend="torch", fps=1234.5, latency_ms=0.01,
            fooled=1.0, recording=True, lost=True, show_help=True, message=LONG)
    for box in (None, (0, 0, size[0], size[1]), (size[0] // 2, size[1] // 2, 5, 5)):
        out = render(frame(*size), frame(*size), pb, pa, box, h, layout=layout)
        assert out.shape == (*canvas_size((size[1], size[0], 3), layout)[::-1], 3)
    out = render(frame(*size), frame(*size), pb, pa, None, h, layout=layout, pane_width=33)
    assert out.shape[1] in (33, 2 * 33 + SEP)


def _bar_fill(canvas, colour, pane):
    """Pixels of exactly `colour` in the bottom-left corner (the top-3 bars) of pane 0 (before) or 1 (after)."""
    r, c = pane_origins("side_by_side", 640, 480)[pane]
    corner = canvas[r + 360:r + 480, c:c + 300]
    return int(np.all(corner == colour, axis=2).sum())


def test_bars_in_the_panes_are_proportional_to_the_probabilities():
    f = frame()
    fills = {}
    for p in (0.0, 0.25, 0.5, 1.0):
        pb = Pred(8, "hen", p, [("hen", p), ("cock", 0.0)])
        pa = Pred(341, "hog", p, [("hog", p), ("hen", 0.0)])                # fooled: the after bar is ACCENT
        out = render(f, f, pb, pa, None, hud())
        fills[p] = (_bar_fill(out, OK_GREEN, 0), _bar_fill(out, ACCENT, 1))
    assert fills[0.0] == (0, 0)
    for pane in (0, 1):
        full = fills[1.0][pane]
        assert full > 300
        assert abs(fills[0.5][pane] / full - 0.5) < 0.05 and abs(fills[0.25][pane] / full - 0.25) < 0.05


def test_no_top_list_draws_no_bars():
    f = frame()
    pb, pa = Pred(8, "hen", 0.9, []), Pred(8, "hen", 0.9, [])
    out = render(f, f, pb, pa, None, Hud(target=None, block_on=False, fooled=None))
    for pane in (0, 1):
        r, c = pane_origins("side_by_side", 640, 480)[pane]
        assert (out[r + 360:r + 480, c:c + 300] == GREY_LEVEL).all()


def _label_text_columns(canvas, pane, level=200):
    """Columns of pane 0/1's label card (top-left) holding bright label text."""
    r, c = pane_origins("side_by_side", 640, 480)[pane]
    card = canvas[r + 20:r + 70, c:c + 640].astype(int)
    return np.flatnonzero((card.max(axis=2) > level).any(axis=0))


def test_label_text_is_drawn_in_the_card_and_grows_with_the_name():
    f = frame()
    short = render(f, f, Pred(8, "hen", 0.94, []), Pred(8, "hen", 0.94, []), None, hud())
    long = render(f, f, Pred(8, "American black bear", 0.94, []), Pred(8, "American black bear", 0.94, []), None,
                  hud())
    for pane in (0, 1):
        a, b = _label_text_columns(short, pane), _label_text_columns(long, pane)
        assert len(a) and a.min() < 30                          # starts at the card's left margin
        assert b.max() - b.min() > 2 * (a.max() - a.min())      # "American black bear 94%" vs "hen 94%"
    r, c = pane_origins("side_by_side", 640, 480)[0]
    assert (short[r + 240, c + 320] == GREY_LEVEL).all()        # and not over the middle of the pane


def test_a_non_animal_is_marked_unless_any_object():
    f = frame()
    mug = Pred(504, "coffee mug", 0.9, [], is_animal=False)
    marked = render(f, f, mug, mug, None, hud())
    plain = render(f, f, mug, mug, None, hud(any_object=True))
    width = {name: np.ptp(_label_text_columns(img, 1, 120)) for name, img in (("marked", marked), ("plain", plain))}
    assert width["marked"] > 1.5 * width["plain"]               # "coffee mug (not an animal) 90%"


def test_header_says_what_the_block_does():
    f = frame()
    pb, pa = preds()
    on, off = render(f, f, pb, pa, None, hud()), render(f, f, pb, pa, None, hud(block_on=False))
    none = render(f, f, pb, pa, None, hud(target=None))
    assert not np.array_equal(on[:HEADER_H], off[:HEADER_H]) and not np.array_equal(on[:HEADER_H], none[:HEADER_H])
    assert np.array_equal(on[HEADER_H:, :640], off[HEADER_H:, :640])      # the BEFORE pane is the same
    card = (slice(HEADER_H, HEADER_H + 80), slice(642, 642 + 320))
    assert not np.array_equal(on[card], off[card])                       # the AFTER tag says "block off"


def test_header_rate_and_readout():
    from app.render import header_status

    assert header_status(hud()) == ["block \u2192 hog", "fooled 80%", "29.9 fps", "12.3 ms", "cpu/onnx"]
    # the block off: said so, and no stale rate
    assert header_status(hud(block_on=False)) == ["block off (hog)", "29.9 fps", "12.3 ms", "cpu/onnx"]
    assert header_status(hud(readout=False)) == ["block \u2192 hog", "fooled 80%"]
    assert header_status(hud(fooled=None, readout=False)) == ["block \u2192 hog", "fooled \u2014"]
    assert header_status(hud(target=None), readout=False) == ["no block"]


def test_fooled_means_the_target_and_a_changed_label_says_so():
    from app.render import after_tag

    pb, hog = preds("hen", "hog")
    _, albatross = preds("hen", "albatross")
    _, hen = preds("hen", "hen")
    assert after_tag(pb, hog, hud(), True) == ("fooled", "fooled")
    assert after_tag(pb, albatross, hud(), False) == ("label changed", "changed")   # not the target: not fooled
    assert after_tag(pb, albatross, hud(target="ostrich"), None) == ("label changed", "changed")
    assert after_tag(pb, hen, hud(), False) == ("", "same")
    assert after_tag(pb, hog, hud(block_on=False), False) == ("block off", "off")
    # drawn: the fooled tag is red, a changed label orange
    f = frame()
    red = _label_card(render(f, f, pb, hog, None, hud(), fooled=True))
    orange = _label_card(render(f, f, pb, albatross, None, hud(), fooled=False))
    assert ((red[..., 2] > 200) & (red[..., 1] < 120)).sum() > 100
    b, g, r = orange[..., 0], orange[..., 1], orange[..., 2]
    assert ((r > 200) & (g > 130) & (g < 190) & (b < 60)).sum() > 100
    assert ((orange[..., 2] > 200) & (orange[..., 1] < 120)).sum() < 10


def test_readout_off_hides_the_bars_and_numbers():
    f = frame()
    pb, pa = preds()
    full, clean = render(f, f, pb, pa, None, hud()), render(f, f, pb, pa, None, hud(readout=False))
    bottom = (slice(HEADER_H + 380, HEADER_H + 480), slice(0, 300))
    assert not np.array_equal(full[bottom], clean[bottom])
    assert (clean[bottom] == GREY_LEVEL).all()                           # no top-3 bars


def test_ascii_fallbacks():
    assert ascii_text("block \u2192 hog") == "block -> hog"
    assert ascii_text("camera lost \u2014 reconnecting\u2026") == "camera lost - reconnecting..."
    assert ascii_text("\u25cf REC") == "* REC"
    assert ascii_text("caf\u00e9 cr\u00e8me") == "cafe creme"
    assert ascii_text("\u4e2d\u6587x").isascii()
    # a label with unicode is drawn exactly like its ASCII fallback (no "???")
    f = frame()
    a = render(f, f, Pred(1, "caf\u00e9 \u2014 cr\u00e8me\u2026", 0.5, []), Pred(1, "x", 0.5, []), None, hud())
    b = render(f, f, Pred(1, "cafe - creme...", 0.5, []), Pred(1, "x", 0.5, []), None, hud())
    c = render(f, f, Pred(1, "cafe - creme", 0.5, []), Pred(1, "x", 0.5, []), None, hud())
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_fit_text_truncates_with_ellipsis():
    from app.render import FONT
    t = fit_text(LONG, 200, 0.5)
    assert t.endswith("...") and t.isascii()
    assert cv2.getTextSize(t, FONT, 0.5, 1)[0][0] <= 200
    assert fit_text("hen", 200, 0.5) == "hen"
    assert fit_text(LONG, 0, 0.5) == ""


def test_a_long_label_is_cut_inside_its_pane():
    f = frame()
    out = render(f, f, Pred(1, LONG, 0.5, []), Pred(1, "hen", 0.5, []), None, hud())
    cols = _label_text_columns(out, 0)
    assert cols.max() < 640 - 4                                  # truncated with "..." before the pane's edge
    assert (out[HEADER_H + 20:HEADER_H + 70, 640:640 + SEP] == out[HEADER_H + 300, 640]).all()   # separator intact


def test_draw_bars_proportional():
    fills = {}
    for p in (0.0, 0.5, 1.0):
        img = np.zeros((60, 300, 3), np.uint8)
        rect = draw_bars(img, (0, 0), [("hen", p)], 300, scale=0.45, color=(0, 255, 0))
        assert rect[2] == 300 and rect[3] > 0
        fills[p] = int(np.all(img == (0, 255, 0), axis=2).sum())
    assert fills[0.0] == 0
    assert fills[1.0] > 0
    assert 0.4 < fills[0.5] / fills[1.0] < 0.6


def test_blend_rect_math_and_clipping():
    img = frame(20, 10, 200)
    blend_rect(img, (5, 2, 4, 3), (0, 0, 100), 0.5)
    assert tuple(img[3, 6]) == (100, 100, 150)
    assert tuple(img[0, 0]) == (200, 200, 200) and tuple(img[3, 9]) == (200, 200, 200)
    blend_rect(img, (-50, -50, 10, 10), (0, 0, 0), 1.0)   # fully outside: no-op
    blend_rect(img, (15, 5, 100, 100), (0, 0, 0), 1.0)    # clipped to the image
    assert (img[5:, 15:] == 0).all() and (img[:5, 15:] == 200).all()
    view = frame(20, 10, 200)[2:8, 3:12]                  # works in place on a non-contiguous view
    blend_rect(view, (0, 0, 9, 6), (0, 0, 0), 0.5)
    assert (view == 100).all()


def test_help_overlay_lists_every_key_of_the_table(monkeypatch):
    """The overlay's rows are app.keys' table: one text row per key (the panel shrinks with fewer keys)."""
    from app import keys
    from app import render as render_mod
    assert KEYS == [(k.name, k.help) for k in keys.KEYS]
    pb, pa = preds()
    f = frame()

    def panel_rows(rows):
        monkeypatch.setattr(render_mod, "KEYS", rows)
        on, off = render(f, f, pb, pa, None, hud(show_help=True)), render(f, f, pb, pa, None, hud())
        changed = np.any(on != off, axis=2)[HEADER_H:]
        return np.flatnonzero(changed.any(axis=1))

    full, two = panel_rows(KEYS), panel_rows(KEYS[:2])
    row_h = (full.max() - full.min() - (two.max() - two.min())) / (len(KEYS) - 2)
    assert 15 < row_h < 40                        # each key adds one text row of the same height


def test_timing_printed_not_asserted(capsys):
    rng = np.random.default_rng(1)
    before = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    after = before.copy()
    pb, pa = preds()
    h = hud(recording=True, message="snapshot saved: out/snap-001.png")
    render(before, after, pb, pa, BOX, h)
    n = 50
    t = time.perf_counter()
    for _ in range(n):
        render(before, after, pb, pa, BOX, h)
    ms = (time.perf_counter() - t) / n * 1e3
    with capsys.disabled():
        print(f"\nrender 2x640x480 side_by_side: {ms:.2f} ms/frame")
