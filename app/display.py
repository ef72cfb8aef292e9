"""What kiosk mode needs from the display that OpenCV's highgui does not offer: the screen's size and a
hidden mouse pointer.

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
        size = screen or (1920, 1080)
        cv2.moveWindow(window, 0, 0)
        cv2.resizeWindow(window, *size)
    if hide_cursor and xd is not None:
        xd.hide_cursor()
    elif hide_cursor:
        log("note: the mouse pointer cannot be hidden here (no X11)")
    return size, xd
