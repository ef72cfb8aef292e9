"""The kiosk screen: the two panes drawn at the display's own size, with labels readable from 3 metres.

`kiosk_layout` places a header, a label card above each pane, the panes (scaled, aspect kept) and an
explanation strip on a screen of any size, side by side or stacked, whichever gives the panes more of the
screen; `render_kiosk` draws one frame on it. Every size follows the screen's shorter side (its height on a
landscape screen): the top-1 label's letters are at least 1/12 of it tall (names too long for their pane at
that size shrink to fit). Pure functions on BGR images.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .render import (
    BOX_COLOR,
    FONT,
    FONT_BOLD,
    GREY,
    OK_GREEN,
    REC_RED,
    TAG_COLORS,
    WHITE,
    Hud,
    after_tag,
    ascii_text,
    draw_bars,
    draw_help,
    draw_lost,
    fit_text,
    header_status,
    label_name,
    no_tag,
)

LABEL_SHARE = 1 / 12 * 1.06   # top-1 label letter height / shorter screen side (6% above the 1/12 asked for)
INK = 20.8                    # Hershey letter height (h, digits, %) in pixels at font scale 1
BG = (24, 22, 20)             # the screen's background (BGR)

Rect = tuple[int, int, int, int]   # x, y, w, h


@dataclass(frozen=True)
class KioskLayout:
    size: tuple[int, int]          # screen width, height
    layout: str                    # side_by_side | stacked
    header: Rect
    cards: tuple[Rect, Rect]       # label card above each pane (before, after)
    panes: tuple[Rect, Rect]
    strip: Rect
    ref: int                       # the screen's shorter side: every size on it scales with this

    @property
    def coverage(self) -> float:
        """Share of the screen the two panes cover."""
        return sum(w * h for _, _, w, h in self.panes) / (self.size[0] * self.size[1])


def _bands(ref: int) -> tuple[int, int, int, int]:
    """Heights of the header, a label card, the explanation strip and the gap between panes."""
    card = round(ref * (LABEL_SHARE * 1.32 + 0.033 + 0.04))    # name + descenders, caption, gap, paddings
    return round(0.05 * ref), card, round(0.088 * ref), max(2, round(ref / 270))


def _fit(frame_w: int, frame_h: int, w: float, h: float) -> tuple[int, int]:
    f = max(min(w / frame_w, h / frame_h), 1e-6)
    return max(1, int(frame_w * f)), max(1, int(frame_h * f))


@functools.lru_cache(maxsize=64)
def kiosk_layout(screen: tuple[int, int], frame: tuple[int, int], layout: str | None = None) -> KioskLayout:
    """The layout for frames of `frame` (w, h) on `screen` (w, h); `layout` None picks the larger panes."""
    if layout is None:
        return max((kiosk_layout(screen, frame, k) for k in ("side_by_side", "stacked")), key=lambda k: k.coverage)
    W, H = screen
    ref = min(W, H)
    head, card, strip, gap = _bands(ref)
    if layout == "side_by_side":
        pw, ph = _fit(*frame, (W - gap) / 2, H - head - card - strip)
        top = head + (H - head - strip - card - ph) // 2             # the block of cards + panes, centred
        x0 = (W - 2 * pw - gap) // 2
        xs = (x0, x0 + pw + gap)
        cards = tuple((x, top, pw, card) for x in xs)
        panes = tuple((x, top + card, pw, ph) for x in xs)
    else:
        pw, ph = _fit(*frame, W, (H - head - 2 * card - strip - gap) / 2)
        top = head + (H - head - strip - 2 * card - 2 * ph - gap) // 2
        ys = (top, top + card + ph + gap)
        cards = tuple((0, y, W, card) for y in ys)                   # the full width: long names fit better
        panes = tuple(((W - pw) // 2, y + card, pw, ph) for y in ys)
    return KioskLayout((W, H), layout, (0, 0, W, head), cards, panes, (0, H - strip, W, strip), ref)


def _view(img: np.ndarray, rect: Rect) -> np.ndarray:
    x, y, w, h = rect
    return img[y:y + h, x:x + w]


def _fill_around(img: np.ndarray, panes, color) -> None:
    """Fill all of `img` but the pane rectangles (the panes are drawn over; a 4K fill costs ~15 ms)."""
    H, W = img.shape[:2]
    edges = sorted({0, H, *(v for _, y, _, h in panes for v in (y, y + h))})
    for y0, y1 in zip(edges, edges[1:]):
        x = 0
        for a, b in sorted((px, px + pw) for px, py, pw, ph in panes if py <= y0 and y1 <= py + ph) + [(W, W)]:
            if a > x:
                cv2.rectangle(img, (x, y0), (a - 1, y1 - 1), color, cv2.FILLED)
            x = max(x, b)


def _scale_for(ink_px: float) -> float:
    return ink_px / INK


def _put(img, text, org, scale, color, font=FONT, bold=1.0) -> None:
    thickness = max(1, round(scale * 1.6 * bold))
    cv2.putText(img, text, (int(org[0]), int(org[1])), font, scale, color, thickness, cv2.LINE_AA)


def _width(text: str, scale: float, font=FONT, bold=1.0) -> int:
    return cv2.getTextSize(text, font, scale, max(1, round(scale * 1.6 * bold)))[0][0]


def _draw_card(img, rect: Rect, caption: str, caption_color, pred, name_color, ref: int, untagged: bool) -> None:
    """Caption line (BEFORE / AFTER, and "not an animal" when so) over the big top-1 name with its probability
    right after it on the same baseline; a name too long for the card shrinks (to 60%), then is cut short with
    "...", so the probability always stays on the card's name line."""
    x, y, w, h = rect
    pad = round(0.012 * ref)
    big = _scale_for(ref * LABEL_SHARE)
    small = big * 0.6
    pct = f"{round(min(max(pred.prob, 0.0), 1.0) * 100)}%"
    room = w - 2 * pad - round(0.02 * ref)                     # a margin toward the next card
    gap = round(0.012 * ref)
    pct_w = _width(pct, small, FONT_BOLD)
    name_room = max(room - pct_w - gap, 1)
    name = ascii_text(pred.name)
    if label_name(pred, untagged) != pred.name:                 # the tag goes on the caption line, never cut
        caption = f"{caption} - not an animal"
    if _width(name, big, FONT_BOLD) > name_room:
        big = max(big * 0.98 * name_room / _width(name, big, FONT_BOLD), big * 0.6)
        name = fit_text(name, name_room, big, max(1, round(big * 1.6)), FONT_BOLD)
    cap = _scale_for(0.033 * ref)
    cap_base = y + pad + round(0.033 * ref)
    _put(img, fit_text(caption, room, cap, max(1, round(cap * 1.6)), FONT), (x + pad, cap_base), cap, caption_color)
    base = y + h - pad - round(_scale_for(ref * LABEL_SHARE) * INK * 0.3)   # room for descenders
    _put(img, name, (x + pad, base), big, name_color, FONT_BOLD)
    _put(img, pct, (x + pad + _width(name, big, FONT_BOLD) + gap, base), small, name_color, FONT_BOLD)


def _draw_header(img, rect: Rect, hud: Hud, notice: str) -> None:
    x, y, w, h = rect
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (38, 34, 32), cv2.FILLED)
    s = _scale_for(0.42 * h)
    base = y + (h + round(s * INK)) // 2
    pad = round(0.4 * h)
    _put(img, "chicken-saviour", (x + pad, base), s, WHITE, FONT_BOLD)
    status = ascii_text("    ".join(header_status(hud, readout=False)))
    sx = x + pad * 2 + _width("chicken-saviour", s, FONT_BOLD)
    _put(img, status, (sx, base), s, (210, 210, 210))
    right = x + w - pad
    if hud.recording:
        r = round(0.18 * h)
        cv2.circle(img, (right - r, y + h // 2), r, REC_RED, cv2.FILLED, cv2.LINE_AA)
        right -= 3 * r
    left = sx + _width(status, s) + pad
    if notice and right > left:
        text = fit_text(notice, right - left, s, max(1, round(s * 1.6)), FONT)
        _put(img, text, (right - _width(text, s), base), s, BOX_COLOR)


def _wrap(text: str, scale: float, width: int, lines: int) -> list[str] | None:
    words, out = ascii_text(text).split(), [""]
    for word in words:
        trial = f"{out[-1]} {word}".strip()
        if _width(trial, scale) <= width:
            out[-1] = trial
        elif _width(word, scale) <= width and len(out) < lines:
            out.append(word)
        else:
            return None
    return out


def _draw_strip(img, rect: Rect, text: str) -> None:
    """The explanation, centred, on up to two lines (smaller type only if it needs more)."""
    x, y, w, h = rect
    if not text.strip():
        return
    s = _scale_for(0.3 * h)
    room = round(w * 0.94)
    lines = _wrap(text, s, room, 1)
    if lines is None:
        s = _scale_for(0.27 * h)
        lines = _wrap(text, s, room, 2)
    while lines is None and s > 0.4:
        s *= 0.9
        lines = _wrap(text, s, room, 2)
    lines = lines or [fit_text(text, room, s, max(1, round(s * 1.6)), FONT)]
    step = round(s * INK * 1.6)
    base = y + (h - step * (len(lines) - 1) + round(s * INK)) // 2
    for i, line in enumerate(lines):
        _put(img, line, (x + (w - _width(line, s, bold=1.4)) // 2, base + i * step), s, WHITE, bold=1.4)


def strip_text(hud: Hud, pasted: bool, kiosk) -> str:
    """The explanation strip's sentence (from `kiosk`, the ui.kiosk settings) for the state on screen: the
    block off (`text_off`), on but with nothing in view to paste it on (`text_idle`, a call to action: "an
    animal" reads "something" when the block goes on any object), or on the animal (`text`)."""
    if hud.target is not None and not hud.block_on:
        return kiosk.text_off
    if pasted or hud.target is None:
        return kiosk.text
    return kiosk.text_idle.replace("an animal", "something") if hud.any_object else kiosk.text_idle


def render_kiosk(before: np.ndarray, after: np.ndarray, pred_before, pred_after, box, hud: Hud,
                 screen: tuple[int, int], text: str = "", notice: str = "", layout: str | None = None,
                 fooled: bool | None = None) -> np.ndarray:
    """A new BGR image of exactly `screen` (w, h): header, label cards, BEFORE and AFTER panes, explanation.
    `box` (x, y, w, h) is in frame pixels or None; `notice` (e.g. the attract loop's) shows in the header
    unless `hud.message` does; `layout` None picks whichever fills the screen more; `fooled` as in
    app.render.render (the after-label is the pasted block's target)."""
    fh, fw = before.shape[:2]
    k = kiosk_layout((int(screen[0]), int(screen[1])), (fw, fh), layout)
    W, H = k.size
    canvas = np.empty((H, W, 3), np.uint8)
    _fill_around(canvas, k.panes, BG)
    tag, kind = after_tag(pred_before, pred_after, hud, fooled)
    after_color = TAG_COLORS[kind]
    untagged = no_tag(hud, box)
    plain = pred_before.is_animal or untagged
    for frame, pane, card, pred, cap, colors in (
            (before, k.panes[0], k.cards[0], pred_before, "BEFORE", (GREY, WHITE if plain else GREY, OK_GREEN)),
            (after, k.panes[1], k.cards[1], pred_after, f"AFTER - {tag}" if tag else "AFTER",
             (GREY if kind == "same" else after_color, after_color, after_color))):
        view = _view(canvas, pane)
        cv2.resize(frame, (pane[2], pane[3]), dst=view, interpolation=cv2.INTER_LINEAR)
        f = pane[2] / fw
        if box is not None:
            x, y, w, h = (round(v * f) for v in box)
            cv2.rectangle(view, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, max(2, round(k.ref / 360)), cv2.LINE_AA)
        m = round(k.ref / 90)
        draw_bars(view, (m, pane[3] - m), pred.top, min(pane[2] - 2 * m, round(k.ref / 2)),
                  scale=_scale_for(k.ref / 54), color=colors[2], anchor="bottom")
        _draw_card(canvas, card, cap, colors[0], pred, colors[1], k.ref, untagged)
    x0, y0 = k.cards[0][:2]
    x1, y1 = k.panes[1][0] + k.panes[1][2], k.panes[1][1] + k.panes[1][3]
    if hud.lost:
        draw_lost(canvas[y0:y1, x0:x1], _scale_for(k.ref / 16))
    if hud.show_help:
        draw_help(canvas[y0:y1, x0:x1])
    _draw_header(canvas, k.header, hud, hud.message or notice or hud.making)
    _draw_strip(canvas, k.strip, text)
    return canvas


def recording_size(width: int, frame: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a recording `width` px wide (rounded down to even) whose two panes, side by side,
    take the full width: the kiosk screen's layout at the recording's own size, so its text is drawn for
    that size (a 800 px GIF has ~35 px labels) instead of shrunk from the window's canvas."""
    W = max(160, int(width) - int(width) % 2)
    fw, fh = frame
    H = max(90, round((W / 2) * fh / fw / (1 - 0.33)))          # the panes plus the bands (~1/3 of the height)
    for h in range(max(90, H - H % 2 - 60), H + 120, 2):          # the first height at which the width limits
        k = kiosk_layout((W, h), (fw, fh), "side_by_side")
        gap = k.panes[1][0] - k.panes[0][0] - k.panes[0][2]
        if k.panes[0][2] >= (W - gap) // 2 - 1:
            return W, h
    return W, H + H % 2


def render_recording(before: np.ndarray, after: np.ndarray, pred_before, pred_after, box, hud: Hud,
                     width: int, text: str = "", fooled: bool | None = None) -> np.ndarray:
    """A frame for a recording `width` px wide: the panes, labels and explanation as the kiosk draws them,
    without the debug readout, help overlay, messages or the REC dot (app.sinks.RecorderSink)."""
    size = recording_size(width, (before.shape[1], before.shape[0]))
    clean = dataclasses.replace(hud, show_help=False, message="", recording=False, readout=False, hint=False)
    return render_kiosk(before, after, pred_before, pred_after, box, clean, size, text, hud.making,
                        "side_by_side", fooled)
