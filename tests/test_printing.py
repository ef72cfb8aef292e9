"""Tests for blocks.printing and `python -m blocks print`: physical size of the PNG and of the PDF page."""
import re
import shutil
import struct
import subprocess
import zlib

import cv2
import numpy as np
import pytest

from blocks import load_block
from blocks.__main__ import main
from blocks.printing import PAPERS, PT_PER_CM, print_block


def _phys(data: bytes) -> tuple[int, int, int]:
    """The pHYs chunk of a PNG: (x, y pixels per unit, unit); checks its CRC."""
    at = data.index(b"pHYs")
    length = struct.unpack(">I", data[at - 4:at])[0]
    body = data[at:at + 4 + length]
    assert struct.unpack(">I", data[at + 4 + length:at + 8 + length])[0] == zlib.crc32(body)
    return struct.unpack(">IIB", body[4:])


def test_png_is_8_cm_at_300_dpi(tmp_path):
    out = tmp_path / "hog.png"
    assert main(["print", "hog", "--size-cm", "8", "--out", str(out)]) == 0
    img = cv2.imread(str(out))
    assert abs(img.shape[0] - 945) <= 2 and img.shape[0] == img.shape[1]       # 8 / 2.54 * 300 = 944.9
    x, y, unit = _phys(out.read_bytes())
    assert unit == 1 and x == y and abs(x * 0.0254 - 300) < 0.01               # pixels per metre -> 300 dpi
    # nearest neighbour: the centre of every cell is exactly the block's pixel
    block = load_block("hog")
    rgb = (block.image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    s = rgb.shape[0]
    centres = ((np.arange(s) + 0.5) * img.shape[0] / s).astype(int)
    assert np.array_equal(img[centres][:, centres][..., ::-1], rgb)


def _pdf_objects(data: bytes) -> dict[int, bytes]:
    """Object number -> its bytes, found through the cross-reference table (which must point at them)."""
    start = int(re.search(rb"startxref\s+(\d+)", data).group(1))
    assert data[start:start + 4] == b"xref"
    head, *rows = data[start:].split(b"trailer")[0].split(b"\n")[1:-1]
    first, count = map(int, head.split())
    objects = {}
    for i, row in enumerate(rows[1:count], start=first + 1):
        offset = int(row.split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % i)
        objects[i] = data[offset:data.index(b"endobj", offset)]
    return objects


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_structure(tmp_path, paper):
    out = print_block(load_block("hog"), tmp_path / "hog.pdf", 8, paper)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    objects = _pdf_objects(data)
    pw, ph = PAPERS[paper]
    assert b"/MediaBox [0 0 %g %g]" % (pw, ph) in objects[3]
    content = objects[4]
    side = float(re.search(rb"q\n([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm\n/Im1 Do", content).group(1))
    assert abs(side - 8 * PT_PER_CM) < 0.01                                       # the image drawn at 8 cm
    assert b"'hog'" in content and b"--no-block" in content
    image = objects[5]
    assert b"/Width 945 /Height 945" in image and b"/FlateDecode" in image
    raw = zlib.decompress(image[image.index(b"stream\n") + 7:image.rindex(b"\nendstream")])
    assert len(raw) == 945 * 945 * 3


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
@pytest.mark.parametrize("paper, page_cm", [("a4", (21.0, 29.7)), ("letter", (21.59, 27.94))])
def test_pdf_renders_the_block_at_its_physical_size(tmp_path, paper, page_cm):
    out = print_block(load_block("hog"), tmp_path / "hog.pdf", 8, paper)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(out), str(tmp_path / "page")], check=True)
    page = cv2.imread(str(tmp_path / "page.png"))
    px_per_cm = 150 / 2.54
    assert abs(page.shape[1] - page_cm[0] * px_per_cm) <= 1 and abs(page.shape[0] - page_cm[1] * px_per_cm) <= 1
    # the block is the one big coloured square; cut marks and text are thin and apart from it
    ink = (page.min(2) < 250).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink)
    big = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = stats[big, :4]
    assert abs(w - 8 * px_per_cm) <= 2 and abs(h - 8 * px_per_cm) <= 2             # 8 cm = 472.4 px (measured 474)
    assert abs(x + w / 2 - page.shape[1] / 2) <= 2                                  # centred
    # and it is the block: the rendered square, shrunk to the block's pixels, matches it
    block = load_block("hog").image.permute(1, 2, 0).numpy()[..., ::-1] * 255
    seen = cv2.resize(page[y:y + h, x:x + w], block.shape[:2], interpolation=cv2.INTER_AREA)
    assert np.abs(seen.astype(float) - block).mean() < 12                          # measured 5.4


@pytest.mark.parametrize("args, words", [
    (["--out", "x.jpg"], [".pdf or .png", "x.jpg"]),
    (["--out", "x.pdf", "--size-cm", "30"], ["--size-cm", "30"]),
    (["--out", "x.png", "--size-cm", "0"], ["--size-cm"]),
])
def test_print_mistakes_are_one_line_errors(tmp_path, capsys, args, words):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert main(["print", "hog", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    for w in words:
        assert w in err
    assert list(tmp_path.iterdir()) == []
