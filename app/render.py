"""Per-frame drawing for chicken-saviour: header bar + BEFORE / AFTER panes.

Pure functions on BGR uint8 numpy images, using cv2 drawing only (no windows,
no per-pixel Python loops). Translucent backgrounds are blended only over the
small rectangles they cover, so a full 2x640x480 frame renders in well under
3 ms.

Hershey fonts (cv2.putText) are ASCII only: every string goes through
``ascii_text`` first ("—" -> "-", "→" -> "->", "…" -> "...", ...), and the
recording dot is drawn with cv2.circle.
"""
from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from . import keys
from .frame import Pred

__all__ = [
    "Pred", "Hud", "KEYS", "render", "canvas_size",
    "ascii_text", "fit_text", "draw_bars", "blend_rect", "draw_help",
    "HEADER_H", "SEP",
]


@dataclass
class Hud:
    target: str | None            # target class of the current block (None = no block)
    block_on: bool = True
    device: str = "cpu"
    backend: str = "onnx"
    fps: float = 0.0
    latency_ms: float = 0.0
    fooled: float | None = None   # rolling share of frames where after-label == target (0..1)
    recording: bool = False
    lost: bool = False            # camera lost overlay
    show_help: bool = False       # key help overlay
    message: str = ""             # transient one-line message at the bottom
    any_object: bool = False      # the block goes on any object: labels are not marked "(not an animal)"
    making: str = ""              # a block being made in the background: "making king penguin 43%"
    readout: bool = True          # the debug readout (fps, latency, device/backend) and the top-3 bars
    hint: bool = True             # the small "h: help" hint in the header


KEYS = [(key.name, key.help) for key in keys.KEYS]   # the help overlay's rows

HEADER_H = 36   # header bar height in pixels
SEP = 2         # separator between the two panes in pixels
MIN_SCALE = 0.36  # smallest font scale used (OpenCV 5 renders spaces ~1 px wide below ~0.35)

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_BOLD = cv2.FONT_HERSHEY_DUPLEX

# colours (BGR)
WHITE = (245, 245, 245)
GREY = (170, 170, 170)
HEADER_BG = (38, 34, 32)
SEP_COLOR = (70, 70, 70)
ACCENT = (60, 70, 240)        # red-ish: fooled (the after-label is the block's target)
OK_GREEN = (100, 215, 100)    # green-ish: after-label unchanged
BOX_COLOR = (0, 215, 255)     # amber/yellow
CHANGED = (0, 165, 255)       # orange: the after-label changed, but not to the block's target
REC_RED = (40, 40, 230)
BAR_BG = (80, 80, 80)

_ASCII_MAP = {
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2192": "->", "\u2190": "<-", "\u21d2": "=>", "\u2194": "<->",
    "\u2026": "...", "\u25cf": "*", "\u2022": "*", "\u00b7": ".", "\u00d7": "x",
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00b0": " deg", "\u2265": ">=", "\u2264": "<=",
    "\u00b5": "u", "\u03bc": "u",
}
_ASCII_TABLE = str.maketrans(_ASCII_MAP)


@functools.lru_cache(maxsize=512)
def ascii_text(text: str) -> str:
    """Return `text` with non-ASCII replaced by ASCII fallbacks (what Hershey fonts can draw).

    Known symbols map to look-alikes ("—"->"-", "→"->"->", "…"->"...", "●"->"*"), accented letters
    lose their accents ("é"->"e"), anything else left over is dropped (never "?")."""
    text = str(text)
    if text.isascii():
        return text
    text = text.translate(_ASCII_TABLE)
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode("ascii")


@functools.lru_cache(maxsize=1024)
def _text_size(text: str, scale: float, thickness: int, font: int) -> tuple[int, int, int]:
    (w, h), base = cv2.getTextSize(text, font, scale, thickness)
    return w, h, base


@functools.lru_cache(maxsize=1024)
def fit_text(text: str, max_width: int, scale: float, thickness: int = 1, font: int = FONT) -> str:
    """ASCII-fy `text` and truncate it with "..." so it is at most `max_width` px wide."""
    text = ascii_text(text)
    if _text_size(text, scale, thickness, font)[0] <= max_width:
        return text
    lo, hi = 0, len(text)          # binary search the longest prefix that fits with "..."
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _text_size(text[:mid].rstrip() + "...", scale, thickness, font)[0] <= max_width:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return "..." if _text_size("...", scale, thickness, font)[0] <= max_width else ""
    return text[:lo].rstrip() + "..."


def _clip_rect(img: np.ndarray, rect) -> tuple[int, int, int, int] | None:
    x, y, w, h = (int(round(v)) for v in rect)
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def blend_rect(img: np.ndarray, rect, color=(0, 0, 0), alpha: float = 0.55) -> None:
    """In place: blend `color` over rect (x, y, w, h) of `img` with opacity `alpha` (clipped to img)."""
    r = _clip_rect(img, rect)
    if r is None:
        return
    x0, y0, x1, y1 = r
    roi = img[y0:y1, x0:x1]
    alpha = float(min(max(alpha, 0.0), 1.0))
    # two in-place passes, no temporary image: roi*(1-alpha), then + color*alpha (saturating)
    cv2.convertScaleAbs(roi, dst=roi, alpha=1.0 - alpha)
    offset = tuple(float(c) * alpha for c in tuple(color)[:3])
    if any(o >= 0.5 for o in offset):
        cv2.add(roi, (*offset, 0.0), dst=roi)


def _pct(p) -> str:
    return f"{round(_clamp01(p) * 100):d}%"


def _clamp01(p) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(p):
        return 0.0
    return min(max(p, 0.0), 1.0)


def draw_bars(img: np.ndarray, xy, top, width: int, scale: float = 0.42, color=OK_GREEN,
              bg=(0, 0, 0), alpha: float = 0.55, anchor: str = "top") -> tuple[int, int, int, int]:
    """Small horizontal bar chart of `top` [(name, prob), ...] in a translucent panel `width` px wide.

    Each row: name (truncated with "..."), a bar proportional to prob, the percentage. The first
    row's bar uses `color`, the others grey. `xy` is the panel's top-left corner, or its
    bottom-left corner when anchor="bottom". Returns the panel rect (x, y, w, h)."""
    top = list(top or [])[:3]
    width = int(width)
    if not top or width <= 8:
        return (int(xy[0]), int(xy[1]), 0, 0)
    pad = max(3, int(round(scale * 10)))
    _, th, base = _text_size("Ag", scale, 1, FONT)
    row_h = th + base + max(2, pad // 2)
    panel_h = len(top) * row_h + 2 * pad - max(2, pad // 2)
    x = int(xy[0])
    y = int(xy[1]) - panel_h if anchor == "bottom" else int(xy[1])
    blend_rect(img, (x, y, width, panel_h), bg, alpha)
    inner = width - 2 * pad
    pct_w = _text_size("100%", scale, 1, FONT)[0]
    name_w = max(int(inner * 0.42), 0)
    gap = pad
    bar_w = inner - name_w - pct_w - 2 * gap
    if bar_w < 6:                       # too narrow: drop the bar, keep name + percent
        bar_w = 0
        name_w = max(inner - pct_w - gap, 0)
    for i, (name, prob) in enumerate(top):
        p = _clamp01(prob)
        ry = y + pad + i * row_h
        base_y = ry + th
        cx = x + pad
        if name_w > 0:
            label = fit_text(str(name), name_w, scale, 1, FONT)
            cv2.putText(img, label, (cx, base_y), FONT, scale, WHITE if i == 0 else GREY, 1, cv2.LINE_AA)
        cx += name_w + gap
        if bar_w > 0:
            by0, by1 = ry + max(1, th // 6), base_y
            cv2.rectangle(img, (cx, by0), (cx + bar_w - 1, by1), BAR_BG, cv2.FILLED)
            fill = int(round(p * bar_w))
            if fill > 0:
                cv2.rectangle(img, (cx, by0), (cx + fill - 1, by1), color if i == 0 else GREY, cv2.FILLED)
            cx += bar_w + gap
        s = _pct(p)
        sw = _text_size(s, scale, 1, FONT)[0]
        cv2.putText(img, s, (x + width - pad - sw, base_y), FONT, scale, WHITE if i == 0 else GREY, 1,
                    cv2.LINE_AA)
    return (x, y, width, panel_h)


# ----------------------------------------------------------------------------------------------
# layout

def _pane_size(frame_shape, pane_width: int | None) -> tuple[int, int]:
    h, w = frame_shape[:2]
    if pane_width is None or int(pane_width) == w:
        return w, h
    pw = max(int(pane_width), 1)
    return pw, max(int(round(h * pw / w)), 1)


def canvas_size(frame_shape, layout: str = "side_by_side", pane_width: int | None = None) -> tuple[int, int]:
    """(width, height) of the canvas `render` returns for frames of `frame_shape`."""
    pw, ph = _pane_size(frame_shape, pane_width)
    if layout == "stacked":
        return pw, HEADER_H + 2 * ph + SEP
    if layout == "side_by_side":
        return 2 * pw + SEP, HEADER_H + ph
    raise ValueError(f"layout must be 'side_by_side' or 'stacked', got {layout!r}")


def no_tag(hud: Hud, box) -> bool:
    """Labels go without the "(not an animal)" tag: the block goes on any object, or it is on something now."""
    return hud.any_object or box is not None


def label_name(pred: Pred, untagged: bool) -> str:
    """The top-1 name as shown: tagged "(not an animal)" when it is none, unless `untagged`."""
    return pred.name if pred.is_animal or untagged else f"{pred.name} (not an animal)"


def _ui_scale(pw: int, ph: int) -> float:
    """Font/spacing scale: 1.0 for a 640x480 pane, clamped so tiny panes stay legible-ish."""
    return min(max(min(pw / 640.0, ph / 480.0), 0.5), 2.0)


def _draw_pane(pane: np.ndarray, caption: str, pred: Pred, label_color, caption_extra: str,
               box, bar_color, bottom_margin: int, untagged: bool = False, bars: bool = True) -> None:
    ph, pw = pane.shape[:2]
    k = _ui_scale(pw, ph)
    m = max(4, int(round(8 * k)))                    # margin from the pane edges

    if box is not None:
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(pane, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, max(1, int(round(2 * k))), cv2.LINE_AA)

    # label card: small caption over the big top-1 label, one dark translucent backing
    cap_scale, lab_scale = max(0.42 * k, MIN_SCALE), 0.95 * k
    lab_th = max(1, int(round(2 * k)))
    pad = max(3, int(round(6 * k)))
    max_w = pw - 2 * m - 2 * pad
    cap_text = fit_text(caption + caption_extra, max(max_w, 0), cap_scale, 1, FONT)
    name = label_name(pred, untagged)
    pct = " " + _pct(pred.prob)
    pct_w = _text_size(pct, lab_scale, lab_th, FONT_BOLD)[0]
    lab_text = fit_text(name, max(max_w - pct_w, 0), lab_scale, lab_th, FONT_BOLD) + pct
    cw, ch, cb = _text_size(cap_text, cap_scale, 1, FONT)
    lw, lh, lb = _text_size(lab_text, lab_scale, lab_th, FONT_BOLD)
    gap = max(2, int(round(5 * k)))
    card_w = max(cw, lw) + 2 * pad
    card_h = ch + gap + lh + lb + 2 * pad
    blend_rect(pane, (m, m, card_w, card_h), (0, 0, 0), 0.58)
    cv2.putText(pane, cap_text, (m + pad, m + pad + ch), FONT, cap_scale, GREY, 1, cv2.LINE_AA)
    cv2.putText(pane, lab_text, (m + pad, m + pad + ch + gap + lh), FONT_BOLD, lab_scale,
                label_color, lab_th, cv2.LINE_AA)

    if not bars:
        return
    # top-3 bars in the bottom-left corner
    bar_w = min(int(round(250 * k)), pw - 2 * m)
    draw_bars(pane, (m, ph - m - bottom_margin), pred.top, bar_w, scale=max(0.42 * k, MIN_SCALE),
              color=bar_color, anchor="bottom")


HINT = "h: help"


def header_status(hud: Hud, readout: bool | None = None) -> list[str]:
    """The header's status parts: the block and its rate ("fooled": the after-label is the block's target,
    over the last frames with the block on), then the debug readout if `readout` (None: `hud.readout`)."""
    if hud.target is None:
        parts = ["no block"]
    elif not hud.block_on:
        parts = [f"block off ({hud.target})"]
    else:
        rate = "\u2014" if hud.fooled is None else _pct(hud.fooled)
        parts = [f"block \u2192 {hud.target}", f"fooled {rate}"]
    if hud.readout if readout is None else readout:
        parts += [f"{hud.fps:.1f} fps", f"{hud.latency_ms:.1f} ms", f"{hud.device}/{hud.backend}"]
    if hud.lost:
        parts.insert(0, "CAMERA LOST")
    if hud.making:
        parts.insert(0, hud.making)
    return parts


def after_tag(pred_before: Pred, pred_after: Pred, hud: Hud, fooled: bool | None) -> tuple[str, str]:
    """The AFTER pane's tag and its kind: ("fooled", ...) only when the after-label is the block's target;
    "label changed" when it merely differs from the before-label; "block off"; or no tag ("same")."""
    if hud.target is not None and not hud.block_on:
        return "block off", "off"
    if fooled is None:
        fooled = hud.target is not None and pred_after.name == hud.target
    if fooled:
        return "fooled", "fooled"
    if pred_after.index != pred_before.index:
        return "label changed", "changed"
    return "", "same"


TAG_COLORS = {"fooled": ACCENT, "changed": CHANGED, "off": OK_GREEN, "same": OK_GREEN}   # the after-label's


def _draw_header(canvas: np.ndarray, hud: Hud) -> None:
    W = canvas.shape[1]
    canvas[:HEADER_H] = HEADER_BG
    cv2.line(canvas, (0, HEADER_H - 1), (W - 1, HEADER_H - 1), SEP_COLOR, 1)
    x0, right = 10, W - 10

    if hud.recording:                                   # red dot + REC on the far right
        rs = 0.5
        tw, th, _ = _text_size("REC", rs, 1, FONT_BOLD)
        r = 6
        tx = right - tw
        cy = HEADER_H // 2
        cv2.putText(canvas, "REC", (tx, cy + th // 2), FONT_BOLD, rs, REC_RED, 1, cv2.LINE_AA)
        cv2.circle(canvas, (tx - r - 5, cy), r, REC_RED, cv2.FILLED, cv2.LINE_AA)
        right = tx - 2 * r - 14

    status = "   ".join(header_status(hud))
    if hud.hint:                                        # the key to everything else, far right
        hs = 0.42
        hw, hh, _ = _text_size(HINT, hs, 1, FONT)
        if right - x0 > hw + 420:
            cv2.putText(canvas, HINT, (right - hw, HEADER_H // 2 + hh // 2), FONT, hs, GREY, 1, cv2.LINE_AA)
            right -= hw + 16

    avail = right - x0
    title = "chicken-saviour"
    for scale in (0.55, 0.48, 0.42, 0.36):
        tw = _text_size(title, scale + 0.05, 1, FONT_BOLD)[0]
        sw = _text_size(ascii_text(status), scale, 1, FONT)[0]
        if tw + 18 + sw <= avail:
            break
    else:
        scale = 0.36
        if tw + 18 + _text_size("block -> xxxxxx...", scale, 1, FONT)[0] > avail:
            title = ""                                  # narrow canvas: the status matters more
            tw = -18
    _, th, _ = _text_size("Ag", scale, 1, FONT)
    base_y = HEADER_H // 2 + th // 2
    if title:
        cv2.putText(canvas, title, (x0, base_y), FONT_BOLD, scale + 0.05, WHITE, 1, cv2.LINE_AA)
    sx = x0 + tw + 18
    status = fit_text(status, max(right - sx, 0), scale, 1, FONT)
    color = ACCENT if hud.lost else (210, 210, 210)
    cv2.putText(canvas, status, (sx, base_y), FONT, scale, color, 1, cv2.LINE_AA)


def _centered_text(img, text, scale, thickness, color, font=FONT_BOLD, max_width=None, cy=None):
    H, W = img.shape[:2]
    if max_width is not None:
        # shrink rather than truncate, down to a minimum
        t = ascii_text(text)
        while scale > 0.35 and _text_size(t, scale, thickness, font)[0] > max_width:
            scale *= 0.85
        text = fit_text(text, int(max_width), scale, thickness, font)
    else:
        text = ascii_text(text)
    tw, th, base = _text_size(text, scale, thickness, font)
    cy = H // 2 if cy is None else cy
    org = ((W - tw) // 2, cy + th // 2)
    cv2.putText(img, text, org, font, scale, color, thickness, cv2.LINE_AA)


def draw_lost(area: np.ndarray, scale: float | None = None) -> None:
    """The "camera lost" overlay over `area` (a view: the panes), its text at `scale` (None: from the width),
    shrunk to fit. The window and the kiosk view both draw it."""
    H, W = area.shape[:2]
    blend_rect(area, (0, 0, W, H), (0, 0, 0), 0.65)
    k = min(max(W / 900.0, 0.45), 1.6) if scale is None else scale
    _centered_text(area, "camera lost \u2014 reconnecting\u2026", 1.0 * k, max(1, int(round(2 * k))),
                   WHITE, max_width=round(W * 0.9))


def draw_help(area: np.ndarray) -> None:
    """The key list (app.keys), centred on `area` (the panes; kiosk mode draws it too)."""
    H, W = area.shape[:2]
    k = min(W / 640.0, H / 480.0)
    scale = min(max(0.6 * k, 0.42), 0.9)
    k = scale / 0.6
    _, th, base = _text_size("Ag", scale, 1, FONT)
    row_h = int(th + base + 8 * k) + 1
    pad = max(6, int(round(14 * k)))
    key_w = max(_text_size(ascii_text(key), scale, 1, FONT_BOLD)[0] for key, _ in KEYS)
    desc_w = max(_text_size(ascii_text(desc), scale, 1, FONT)[0] for _, desc in KEYS)
    title_scale = 0.75 * scale / 0.6
    _, tth, tbase = _text_size("keys", title_scale, 1, FONT_BOLD)
    col_gap = int(24 * k)
    pw = min(key_w + col_gap + desc_w + 2 * pad, W - 8)
    phh = min(tth + tbase + int(10 * k) + len(KEYS) * row_h + 2 * pad, H - 8)
    x, y = (W - pw) // 2, (H - phh) // 2
    blend_rect(area, (x, y, pw, phh), (20, 20, 20), 0.82)
    cv2.rectangle(area, (x, y), (x + pw - 1, y + phh - 1), (110, 110, 110), 1)
    cy = y + pad + tth
    cv2.putText(area, "keys", (x + pad, cy), FONT_BOLD, title_scale, BOX_COLOR, 1, cv2.LINE_AA)
    cy += tbase + int(10 * k)
    dx = x + pad + key_w + col_gap
    for key, desc in KEYS:
        cy += row_h
        if cy > y + phh:
            break
        cv2.putText(area, ascii_text(key), (x + pad, cy - base), FONT_BOLD, scale, WHITE, 1, cv2.LINE_AA)
        d = fit_text(desc, max(x + pw - pad - dx, 0), scale, 1, FONT)
        cv2.putText(area, d, (dx, cy - base), FONT, scale, GREY, 1, cv2.LINE_AA)


def _draw_message(canvas: np.ndarray, message: str, strip_h: int) -> None:
    H, W = canvas.shape[:2]
    blend_rect(canvas, (0, H - strip_h, W, strip_h), (0, 0, 0), 0.65)
    scale = 0.5 if W >= 480 else 0.38
    _, th, _ = _text_size("Ag", scale, 1, FONT)
    text = fit_text(message, W - 20, scale, 1, FONT)
    cv2.putText(canvas, text, (10, H - strip_h // 2 + th // 2), FONT, scale, WHITE, 1, cv2.LINE_AA)


# ----------------------------------------------------------------------------------------------

def _panes(before: np.ndarray, after: np.ndarray, layout: str, pane_width: int | None):
    """A new canvas with the two frames in their panes (scaled to pane_width) and the separator; returns
    (canvas, before pane, after pane), the panes as views into the canvas. The header is left to draw."""
    fh, fw = before.shape[:2]
    W, H = canvas_size(before.shape, layout, pane_width)
    pw, ph = _pane_size(before.shape, pane_width)
    canvas = np.empty((H, W, 3), np.uint8)
    if layout == "stacked":
        r1 = canvas[HEADER_H:HEADER_H + ph]
        r2 = canvas[HEADER_H + ph + SEP:]
        canvas[HEADER_H + ph:HEADER_H + ph + SEP] = SEP_COLOR
    else:
        r1 = canvas[HEADER_H:, :pw]
        r2 = canvas[HEADER_H:, pw + SEP:]
        canvas[HEADER_H:, pw:pw + SEP] = SEP_COLOR
    if (pw, ph) == (fw, fh):
        r1[:] = before
        r2[:] = after
    else:
        # INTER_AREA is best for shrinking but ~6x slower than LINEAR at non-integer ratios (640->480);
        # use it only for >= 2x downscales, where it is as fast and LINEAR would alias
        interp = cv2.INTER_AREA if 2 * pw <= fw else cv2.INTER_LINEAR
        cv2.resize(before, (pw, ph), dst=r1, interpolation=interp)
        cv2.resize(after, (pw, ph), dst=r2, interpolation=interp)
    return canvas, r1, r2


def render(before: np.ndarray, after: np.ndarray, pred_before: Pred, pred_after: Pred, box, hud: Hud,
           layout: str = "side_by_side", pane_width: int | None = None, fooled: bool | None = None) -> np.ndarray:
    """Compose a new BGR canvas: header bar on top, then BEFORE and AFTER panes.

    layout: "side_by_side" (canvas (HEADER_H + ph, 2*pw + SEP)) or "stacked" (after below before,
    canvas (HEADER_H + 2*ph + SEP, pw)). pane_width scales each pane to that width keeping the
    aspect (None = native). box (x, y, w, h) is in frame pixels or None. `fooled`: the frame's after-label is
    the pasted block's target (app.frame.FrameResult.fooled; None: the label's name is hud.target's). Inputs
    are not modified."""
    if before.shape != after.shape:
        raise ValueError(f"before and after must have the same shape, got {before.shape} and {after.shape}")
    if before.ndim != 3 or before.shape[2] != 3:
        raise ValueError(f"expected BGR frames (H, W, 3), got {before.shape}")
    canvas, r1, r2 = _panes(before, after, layout, pane_width)
    W = canvas.shape[1]
    if box is not None:
        sx, sy = r1.shape[1] / before.shape[1], r1.shape[0] / before.shape[0]
        box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)

    msg = ascii_text(hud.message.strip()) if hud.message else ""
    strip_h = (26 if W >= 480 else 20) if msg else 0
    tag, kind = after_tag(pred_before, pred_after, hud, fooled)
    after_color = TAG_COLORS[kind]
    after_extra = f"  - {tag}" if tag else ""
    untagged = no_tag(hud, box)
    before_color = WHITE if pred_before.is_animal or untagged else GREY
    _draw_pane(r1, "BEFORE", pred_before, before_color, "", box, OK_GREEN,
               strip_h if layout != "stacked" else 0, untagged, hud.readout)
    _draw_pane(r2, "AFTER", pred_after, after_color, after_extra, box, after_color, strip_h, untagged, hud.readout)

    _draw_header(canvas, hud)
    panes = canvas[HEADER_H:]
    if hud.lost:
        draw_lost(panes)
    if hud.show_help:
        draw_help(panes)
    if msg:
        _draw_message(canvas, msg, strip_h)
    return canvas
