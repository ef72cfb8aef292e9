"""chicken-saviour: a live classifier, and the same frame with an adversarial block pasted on the animal.

    python -m app                                   # the webcam/config source (falls back to the built-in sample)
    python -m app --source sample --headless --max-frames 150 --record out/demo.gif --stats out/demo.jsonl
    python -m app --source clip.mp4 --block giant_panda --record out.mp4
    python -m app --kiosk --any-object              # a booth: fullscreen, big labels, the block on anything
    python -m app --target "king penguin"           # no such block yet: made in the background, then switched to
    python -m app --list-cameras                    # the cameras there are; then --source 1, /dev/video2, cam:Logitech

Settings come from config.yaml (or --config PATH); every flag below overrides its key there.

Keys (in the window; press h for this list on screen):
    space    block on / off
    n        next target block
    p        previous target block
    1-9      jump to that block of the n / p cycle
    m        mirror left-right (on for cameras)
    r        start / stop recording
    s        snapshot PNG
    f        fullscreen
    d        hide / show the fps readout and top-3 bars
    h        help overlay
    q / Esc  quit
"""
from __future__ import annotations

import argparse
import sys

from models import UserError
from models.cli import ArgumentParser, one_line_errors

from .keys import help_text

KEYS_HEADING = "Keys (in the window; press h for this list on screen):"


def parse_args(argv=None):
    ap = ArgumentParser(prog="python -m app", description=__doc__.partition(KEYS_HEADING)[0].rstrip(),
                        epilog=f"{KEYS_HEADING}\n{help_text()}",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="settings file (default: config.yaml)")
    ap.add_argument("--source", help="camera index, device path (/dev/video2), cam:NAME (Linux: a camera whose "
                    "name contains NAME), video file, image, folder, or 'sample'")
    ap.add_argument("--list-cameras", action="store_true",
                    help="list the cameras that open (index, size, name) and exit")
    ap.add_argument("--camera-size", metavar="WxH", help="ask the camera for this capture size, e.g. 1280x720")
    ap.add_argument("--mirror", action=argparse.BooleanOptionalAction,
                    help="flip frames left-right (default: cameras yes, files and the sample no; m toggles)")
    ap.add_argument("--block", help="library block name or PNG path (its JSON beside it)")
    ap.add_argument("--target", help="start on a block toward this ImageNet class; when the library has none, "
                    "one is made in the background (block.make_minutes) and the app switches to it")
    ap.add_argument("--block-scale", type=float, help="block side × this (1.0 = its trained area)")
    ap.add_argument("--no-block", action="store_true", help="start with the block off")
    ap.add_argument("--model", help="classifier name")
    ap.add_argument("--weights", help="a .pth state dict for the classifier")
    ap.add_argument("--device", help="auto | cpu | cuda")
    ap.add_argument("--backend", help="auto | onnx | torch")
    ap.add_argument("--localize", help="cam | sliding | center")
    ap.add_argument("--confidence", type=float, help="how sure the classifier must be of an animal (all animal "
                    "classes together; with --any-object, of its top class) to place the block")
    ap.add_argument("--any-object", action="store_true",
                    help="place the block on whatever the classifier sees, animal or not")
    ap.add_argument("--kiosk", action="store_true",
                    help="booth mode: fullscreen, big labels, attract loop; runs without keys (ui.kiosk)")
    ap.add_argument("--record", help="record the before/after view, drawn for the file's width: .mp4 (H.264, "
                    "1280 px), .gif/.webp (800 px, 10 fps), .avi (MJPG)")
    ap.add_argument("--stats", help="write one JSON object per frame to this .jsonl")
    ap.add_argument("--headless", action="store_true", help="no window (automatic without a display)")
    ap.add_argument("--max-frames", type=int, help="stop after N frames")
    pace = ap.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true",
                      help="play files and the sample at their own rate (the default in a window)")
    pace.add_argument("--fast", action="store_true",
                      help="process every frame as fast as possible (the default headless)")
    ap.add_argument("--loop", action=argparse.BooleanOptionalAction,
                    help="restart a finite source at its end (default: in a window yes, headless no)")
    ap.add_argument("--layout", help="side_by_side | stacked")
    ap.add_argument("--quiet", action="store_true", help="no summary")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    return ap.parse_args(argv)


def settings_from(args):
    from .config import load_settings, override
    settings = load_settings(args.config)
    return override(settings, {
        "source": args.source, "block.name": args.block, "block.target": args.target, "block.scale": args.block_scale,
        "block.enabled": False if args.no_block else None, "model": args.model, "weights": args.weights,
        "device": args.device, "backend": args.backend, "localize.method": args.localize,
        "localize.confidence": args.confidence, "localize.classes": "any" if args.any_object else None,
        "ui.kiosk.enabled": True if args.kiosk else None, "record.path": args.record, "stats": args.stats,
        "ui.headless": True if args.headless else None, "max_frames": args.max_frames,
        "realtime": True if args.realtime else False if args.fast else None, "loop": args.loop,
        "ui.layout": args.layout, "mirror": args.mirror, "camera_size": camera_size(args.camera_size),
    })


def camera_size(text: str | None) -> list[int] | None:
    """--camera-size 1280x720 -> [1280, 720]."""
    if text is None:
        return None
    w, x, h = text.lower().strip().partition("x")
    if not (x and w.strip().isdigit() and h.strip().isdigit()):
        raise UserError(f"--camera-size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    return [int(w), int(h)]


@one_line_errors
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_cameras:                     # no settings, no model
        from .sources import camera_list_text, list_cameras
        print(camera_list_text(list_cameras()))
        return 0
    from .run import run
    summary = run(settings_from(args), log=lambda m: print(m, file=sys.stderr))
    if not args.quiet:
        print(summary.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
