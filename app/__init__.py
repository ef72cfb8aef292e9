import models.quiet  # noqa: F401  (before any cv2 import: OpenCV's and FFmpeg's own log lines off the terminal)
