"""Printable blocks: a block at a physical size, as a 300-dpi PNG or as a one-page PDF to cut out.

    python -m blocks print hog --size-cm 8 --out hog.pdf              # A4 page (--paper letter for Letter)
    python -m blocks print hog --size-cm 8 --out hog.png              # the block alone: 945 px at 300 dpi

The block is scaled up with nearest neighbour, so its pixels stay sharp squares. The PNG carries its
resolution (a pHYs chunk): printed at "actual size" it comes out at the requested size. The PDF is written
here by hand (no dependency): one page, the same 300-dpi image (a Flate-compressed RGB XObject) drawn at
exactly the requested size in the middle of the page, corner cut marks, the target's name and how to use it
(standard Helvetica fonts).
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from models import UserError

from .library import Block

DPI = 300
PAPERS = {"a4": (595.276, 841.89), "letter": (612.0, 792.0)}   # page size in points (1/72 inch)
MARGIN_CM = 1.5                                                 # free border left around the block and marks
PT_PER_CM = 72 / 2.54
USE = "Cut along the marks and hold it next to an animal in front of the camera of: python -m app --no-block"


def pixels_for(size_cm: float, dpi: int = DPI) -> int:
    """Side in pixels of a `size_cm` square at `dpi` (8 cm at 300 dpi: 945)."""
    return round(size_cm / 2.54 * dpi)


def upscale(block: Block, px: int) -> np.ndarray:
    """The block as an RGB uint8 px×px image, nearest neighbour."""
    rgb = (block.image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    return cv2.resize(rgb, (px, px), interpolation=cv2.INTER_NEAREST)


def png_bytes(rgb: np.ndarray, dpi: int = DPI) -> bytes:
    """A PNG of `rgb` with its resolution recorded (pHYs, pixels per metre) right after the header chunk."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise UserError("cannot encode the PNG")
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    ihdr_end = 8 + 4 + 4 + 13 + 4          # signature, then IHDR: length, type, 13 bytes of data, CRC
    return data[:ihdr_end].tobytes() + chunk + data[ihdr_end:].tobytes()


def _text(x: float, y: float, font: str, size: float, text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"BT /{font} {size:g} Tf {x:.2f} {y:.2f} Td ({escaped}) Tj ET"


def page_content(size_cm: float, paper: str, target: str) -> tuple[str, tuple[float, float]]:
    """The page's drawing operators (the image is /Im1) and the page size in points."""
    pw, ph = PAPERS[paper]
    side = size_cm * PT_PER_CM
    x, y = (pw - side) / 2, (ph - side) / 2
    gap, mark = 0.3 * PT_PER_CM, 0.8 * PT_PER_CM               # cut marks: 3 mm from the corner, 8 mm long
    ops = ["q", f"{side:.3f} 0 0 {side:.3f} {x:.3f} {y:.3f} cm", "/Im1 Do", "Q", "0 G 0.5 w"]
    for cx, sx in ((x, -1), (x + side, 1)):
        for cy, sy in ((y, -1), (y + side, 1)):
            ops.append(f"{cx + sx * gap:.2f} {cy:.2f} m {cx + sx * (gap + mark):.2f} {cy:.2f} l S")
            ops.append(f"{cx:.2f} {cy + sy * gap:.2f} m {cx:.2f} {cy + sy * (gap + mark):.2f} l S")
    left, top = MARGIN_CM * PT_PER_CM, ph - MARGIN_CM * PT_PER_CM
    ops.append(_text(left, top - 20, "F2", 18, f"Adversarial block: the classifier sees '{target}'"))
    ops.append(_text(left, top - 42, "F1", 10, USE))
    ops.append(_text(left, MARGIN_CM * PT_PER_CM, "F1", 8.5,
                     f"{size_cm:g} cm x {size_cm:g} cm when printed at actual size (100%, no fit to page)."))
    return "\n".join(ops), (pw, ph)


def _stream(header: str, data: bytes) -> bytes:
    return f"<< {header} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def pdf_bytes(rgb: np.ndarray, size_cm: float, paper: str, target: str) -> bytes:
    """A one-page PDF 1.4: catalog, pages, page, content, image, two fonts; then the cross-reference table."""
    content, (pw, ph) = page_content(size_cm, paper, target)
    h, w = rgb.shape[:2]
    font = "<< /Type /Font /Subtype /Type1 /BaseFont /{} /Encoding /WinAnsiEncoding >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:g} {ph:g}] /Contents 4 0 R /Resources << "
         f"/XObject << /Im1 5 0 R >> /Font << /F1 6 0 R /F2 7 0 R >> >> >>").encode(),
        _stream("", content.encode("latin-1", errors="replace")),
        _stream(f"/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB "
                f"/BitsPerComponent 8 /Interpolate false /Filter /FlateDecode",
                zlib.compress(np.ascontiguousarray(rgb).tobytes(), 9)),
        font.format("Helvetica").encode(),
        font.format("Helvetica-Bold").encode(),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (a temporary file in the same folder, then a rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


def print_block(block: Block, out: str | Path, size_cm: float = 8.0, paper: str = "a4") -> Path:
    """Write `block` at `size_cm` to `out`: a .png (the block alone, 300 dpi) or a .pdf (a page to cut out)."""
    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".png", ".pdf"):
        raise UserError(f"--out must end in .pdf or .png, got {out}")
    if paper not in PAPERS:
        raise UserError(f"--paper must be one of {', '.join(PAPERS)}, got {paper!r}")
    largest = min(PAPERS[paper]) / PT_PER_CM - 2 * (MARGIN_CM + 1.1)      # room for the cut marks
    if not 1 <= size_cm <= (largest if kind == ".pdf" else 100):
        raise UserError(f"--size-cm must be in [1, {largest if kind == '.pdf' else 100:.1f}] for this output, "
                        f"got {size_cm:g}")
    rgb = upscale(block, pixels_for(size_cm))
    _write(out, png_bytes(rgb) if kind == ".png" else pdf_bytes(rgb, size_cm, paper, block.info.target_name))
    return out
