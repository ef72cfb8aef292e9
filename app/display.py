"""What the windows need from the display that OpenCV's highgui does not offer: the screen's size and a
hidden mouse pointer (kiosk mode), and black bars around a canvas of another aspect than the window
(`LetterboxWindow`: fullscreen, or a window resized by hand).

On X11 both come from Xlib and the XFixes extension through ctypes (libX11 and libXfixes are there wherever
Qt runs on X): `XFixesHideCursor` hides the pointer for as long as this process's connection stays open, so
the pointer comes back by itself however the app ends. Elsewhere (Wayland without XWayland, macOS, Windows)
`XDisplay()` raises OSError and the kiosk goes on with the pointer visible.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import time

import cv2
import numpy as np

from .sinks import WINDOW, Window

DEFAULT_SCREEN = (1920, 1080)   # the screen kiosk mode draws for when it cannot ask one (headless, no X11)


class XDisplay:
    """One connection to the X server named by $DISPLAY."""

    def __init__(self):
        names = ctypes.util.find_library("X11"), ctypes.util.find_library("Xfixes")
        if not all(names):
            raise OSError("libX11 / libXfixes not found")
        self.x11, self.xfixes = (ctypes.CDLL(n) for n in names)
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in ("XDefaultScreen", "XCloseDisplay", "XFlush"):
            getattr(self.x11, fn).argtypes = [ctypes.c_void_p]
        for fn in ("XDisplayWidth", "XDisplayHeight"):
            getattr(self.x11, fn).argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.xfixes.XFixesHideCursor.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.dpy = self.x11.XOpenDisplay(None)
        if not self.dpy:
            raise OSError("cannot open the X display")

    @property
    def size(self) -> tuple[int, int]:
        """The X screen's width and height (all monitors together, if several)."""
        screen = self.x11.XDefaultScreen(self.dpy)
        return self.x11.XDisplayWidth(self.dpy, screen), self.x11.XDisplayHeight(self.dpy, screen)

    def hide_cursor(self) -> None:
        self.xfixes.XFixesHideCursor(self.dpy, self.x11.XDefaultRootWindow(self.dpy))
        self.x11.XFlush(self.dpy)

    def close(self) -> None:
        """Closing the connection shows the pointer again."""
        if self.dpy:
            self.x11.XCloseDisplay(self.dpy)
            self.dpy = None


def fullscreen_size(window: str, screen: tuple[int, int] | None, wait_s: float = 1.5) -> tuple[int, int] | None:
    """The size the fullscreen `window` fills, once the window manager has made it so: the X screen's size
    (`screen`), or a smaller size that stays the same for 0.5 s (one monitor of several). None when the
    window never grows (no window manager)."""
    black = np.zeros((90, 160, 3), np.uint8)
    seen, since, end = None, time.monotonic(), time.monotonic() + wait_s
    while time.monotonic() < end:
        cv2.imshow(window, black)
        cv2.waitKey(30)
        x, y, w, h = cv2.getWindowImageRect(window)
        size = (2 * x + w, 2 * y + h)                 # the image is centred in the window (aspect kept)
        if size == screen:
            return size
        if size != seen:
            seen, since = size, time.monotonic()
        elif time.monotonic() - since >= 0.5 and (screen is None or 2 * w >= screen[0] and 2 * h >= screen[1]):
            return size
    return None


def open_kiosk_window(window: str, configured: tuple[int, int], hide_cursor: bool, log) -> tuple:
    """Make the (already created, fullscreen) `window` cover the screen; hide the pointer if asked.
    Returns the screen size to draw at and the X connection to close at the end (None: none)."""
    try:
        xd = XDisplay()
    except OSError:
        xd = None
    screen = xd.size if xd is not None else None
    size = fullscreen_size(window, screen)
    if configured != (0, 0):
        size = configured
    elif size is None:                        # no window manager made it fullscreen: cover the screen ourselves
        size = screen or DEFAULT_SCREEN
        cv2.moveWindow(window, 0, 0)
        cv2.resizeWindow(window, *size)
    if hide_cursor and xd is not None:
        xd.hide_cursor()
    elif hide_cursor:
        log("note: the mouse pointer cannot be hidden here (no X11)")
    return size, xd


def window_size(window: str = WINDOW) -> tuple[int, int] | None:
    """The size of `window`'s drawing area, the window drawing its image stretched to fill it (WINDOW_FREERATIO:
    cv2.getWindowImageRect then gives that area, at its place on the screen); None when the backend does not say."""
    try:
        _, _, w, h = cv2.getWindowImageRect(window)
    except cv2.error:
        return None
    return (w, h) if w > 0 and h > 0 else None


class Letterbox:
    """`letterbox(canvas, size)`: `canvas` scaled to fit `size` (width, height), aspect kept, centred on black,
    so the bars are black instead of the window's own grey. The black image is reused while the size and the
    canvas's place on it stay the same: only the canvas's part is redrawn, the bars stay black."""

    def __init__(self):
        self.board: np.ndarray | None = None
        self.at: tuple[int, int, int, int] | None = None      # where the canvas went last time

    def __call__(self, canvas: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        width, height = size
        h, w = canvas.shape[:2]
        f = min(width / w, height / h)
        sw, sh = max(1, min(width, round(w * f))), max(1, min(height, round(h * f)))
        at = ((width - sw) // 2, (height - sh) // 2, sw, sh)
        if self.board is None or self.board.shape[:2] != (height, width):
            self.board, self.at = np.zeros((height, width, 3), np.uint8), None
        if at != self.at:
            self.board[:] = 0
            self.at = at
        x, y = at[:2]
        inter = cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR
        cv2.resize(canvas, (sw, sh), dst=self.board[y:y + sh, x:x + sw], interpolation=inter)
        return self.board


class LetterboxWindow(Window):
    """The app's window (app.sinks.Window) with black bars: when the window's area has another aspect than the
    canvas (fullscreen, or resized by hand), the canvas is drawn onto a black image of the window's size, which
    the window shows as it is (it stretches what it is given: WINDOW_FREERATIO, instead of keeping the ratio
    on its own light-grey background). At the canvas's own size (the usual window) the canvas is shown as it is,
    no copy."""

    def __init__(self, fullscreen: bool = False):
        super().__init__(fullscreen)
        self.letterbox = Letterbox()
        try:
            cv2.setWindowProperty(WINDOW, cv2.WND_PROP_ASPECT_RATIO, cv2.WINDOW_FREERATIO)
        except cv2.error:                       # a backend without it keeps the ratio itself (grey bars)
            pass

    def show(self, canvas: np.ndarray) -> None:
        size = window_size() if self.sized or self.fullscreen else None   # not yet open: at the canvas's size
        h, w = canvas.shape[:2]
        if size is None or (abs(size[0] - w) <= 1 and abs(size[1] - h) <= 1):
            super().show(canvas)
            return
        super().show(self.letterbox(canvas, size))
