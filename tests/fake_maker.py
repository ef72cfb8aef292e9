"""A stand-in for `python -m app.maker make --target NAME ... --out DIR` (app.maker's CHICKEN_SAVIOUR_MAKER),
so tests of the background job take a second instead of minutes of training. It prints what the real one
prints (a progress bar line, the PNG path) and writes the shipped hog block as a block toward --target.

FAKE_MAKER_MODE: ok (default) | fail (one `error:` line, exit 2) | hang (a checkpoint, then ignores SIGTERM
and never ends). FAKE_MAKER_GATE: a folder; when set, the fake waits for files `1` and `2` to appear in it
before its 43% line and before finishing. FAKE_MAKER_ARGV: a file to write its arguments to (JSON).
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOG = ROOT / "blocks" / "library" / "hog"
# the class names without importing models (which imports torch: seconds on a busy machine)
NAMES = [line.split(",")[0].strip() for line in (ROOT / "models" / "imagenet_classes.txt").read_text().splitlines()]


def wait_for(gate: str | None, name: str) -> None:
    while gate and not (Path(gate) / name).exists():
        time.sleep(0.02)


def write_block(out: Path, target: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    png = out / (NAMES[target].replace(" ", "_").replace("'", "").lower() + ".png")
    png.write_bytes(HOG.with_suffix(".png").read_bytes())
    info = json.loads(HOG.with_suffix(".json").read_text())
    info.update(target=target, target_name=NAMES[target])
    png.with_suffix(".json").write_text(json.dumps(info))
    return png


def main(argv: list[str]) -> int:
    mode, gate = os.environ.get("FAKE_MAKER_MODE", "ok"), os.environ.get("FAKE_MAKER_GATE")
    if os.environ.get("FAKE_MAKER_ARGV"):
        Path(os.environ["FAKE_MAKER_ARGV"]).write_text(json.dumps(argv))
    out, target = Path(argv[argv.index("--out") + 1]), NAMES.index(argv[argv.index("--target") + 1])
    print(f"training a 70×70 block toward {NAMES[target]!r} on 40 photos")
    if mode == "fail":
        print("error: no training photos at data/photos/train: run `make photos` once", file=sys.stderr)
        return 2
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("[#-------------------]   5% step    25  1.00s/step  ETA   475s  loss  1.000  success  10.0%")
        write_block(out, target)          # a checkpoint: a partial block must not reach the library
        while True:
            time.sleep(1)
    wait_for(gate, "1")
    print("[########------------]  43% step   100  1.00s/step  ETA   133s  loss  0.500  success  43.0%")
    wait_for(gate, "2")
    print(write_block(out, target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
