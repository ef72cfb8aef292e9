"""A printed block seen by a camera, in simulation: random parameters drawn apart from a deterministic,
differentiable apply (as in :mod:`blocks.paste`).

Two stages, because print and camera act on different things:

- :func:`printed` — on the block (N×3×s×s) before it is pasted: the printer's gamut (less saturation and
  contrast, lifted blacks, ink/white-balance colour cast), the sheet's tilt (perspective, up to ±25° about
  each axis: the block is foreshortened to its projected size and the scene shows around it) and uneven
  light on the sheet (a smooth gradient gain, whites clipped). These belong to the sheet of paper alone:
  applying them to the whole photo would also wash out the animal and change what the block has to beat.
- :func:`camera` — on the whole image (N×3×H×W) after pasting: defocus blur, sensor noise and JPEG
  (8×8 DCT in YCbCr, 4:2:0 chroma, quantised with a straight-through rounding: the forward pass is a real
  JPEG round trip of the image, the gradient passes as if it were not rounded).

:func:`paste_physical` pastes a block through both; :func:`physical` applies both to images as they are
(a photo of a print filling the frame). Every effect is scaled by ``strength``: 0 is the identity, 1 the
ranges below (a home printer and a webcam or phone camera).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .paste import PasteParams, paste, uniform

# at strength 1, uniform in these ranges
SATURATION = (0.6, 0.95)        # printed colours: 1 = as on screen
BLACK = (0.03, 0.12)            # ink black as the camera sees it
WHITE = (0.85, 1.0)             # paper white
CAST = 0.06                     # each channel ×[1 - CAST, 1 + CAST]
TILT = 25.0                     # degrees about each axis of the sheet
LIGHT = (0.0, 0.35)             # gain from one edge of the block to the other: 1 ± LIGHT/2, then ×EXPOSURE
EXPOSURE = (0.95, 1.2)          # light on the sheet (above 1: whites clip)
BLUR = (0.0, 1.2)               # defocus, Gaussian sigma in pixels of the classifier's input
NOISE = (0.005, 0.03)           # sensor noise std
JPEG_QUALITY = (50, 95)
_DISTANCE = 4.0                 # camera distance in half-sides of the block (perspective strength)
SHEET_MARGIN = 1.25             # paste_physical draws the tilted sheet on a canvas this much wider than the
                                # block, so its near edge (magnified by perspective) is not cut off
_LUMA = (0.299, 0.587, 0.114)


@dataclass
class PhysicalParams:
    saturation: torch.Tensor    # N
    black: torch.Tensor         # N
    white: torch.Tensor         # N
    cast: torch.Tensor          # N×3 channel gains
    tilt: torch.Tensor          # N×2 degrees (about the sheet's x and y axes)
    light: torch.Tensor         # N×3: gradient amplitude, direction (radians), exposure
    blur: torch.Tensor          # N sigma in pixels
    noise: torch.Tensor         # N std
    jpeg: torch.Tensor          # N quantisation scale (0: none; 1: quality 50)
    seed: torch.Tensor          # N seeds of each image's noise

    def __len__(self) -> int:
        return self.saturation.shape[0]


def _jpeg_scale(quality: torch.Tensor) -> torch.Tensor:
    """libjpeg's table scale for a quality in [50, 100], as a multiple of quality 50's."""
    return (200 - 2 * quality) / 100


def sample_physical(n: int, strength: float = 1.0, generator: torch.Generator | None = None) -> PhysicalParams:
    """Random print-and-camera parameters; `strength` scales every effect (0: none). The same generator
    state gives the same parameters whatever the strength."""
    def u(lo, hi, size=(n,)):
        return uniform(lo, hi, size, generator)

    def toward(identity, drawn):
        return identity + strength * (drawn - identity)
    light = torch.stack([toward(0.0, u(*LIGHT)), u(0, 2 * math.pi), toward(1.0, u(*EXPOSURE))], 1)
    return PhysicalParams(
        saturation=toward(1.0, u(*SATURATION)), black=toward(0.0, u(*BLACK)), white=toward(1.0, u(*WHITE)),
        cast=toward(1.0, u(1 - CAST, 1 + CAST, (n, 3))), tilt=toward(0.0, u(-TILT, TILT, (n, 2))), light=light,
        blur=toward(0.0, u(*BLUR)), noise=toward(0.0, u(*NOISE)),
        jpeg=toward(0.0, _jpeg_scale(u(*JPEG_QUALITY))), seed=torch.randint(0, 2**62, (n,), generator=generator))


def _col(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.device, x.dtype).view(-1, *([1] * (x.dim() - 1)))


def _gamut(x: torch.Tensor, p: PhysicalParams) -> torch.Tensor:
    luma = (x * torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    x = luma + _col(p.saturation, x) * (x - luma)
    x = x * p.cast.to(x.device, x.dtype).view(-1, 3, 1, 1)
    return _col(p.black, x) + (_col(p.white, x) - _col(p.black, x)) * x.clamp(0, 1)


def _tilt_grid(p: PhysicalParams, hgt: int, wid: int, extent: float, device, dtype) -> torch.Tensor:
    """Sampling grid (N×H×W×2) of the tilted sheet seen from the camera, on a canvas spanning ±`extent`
    half-sides of the sheet; a sheet that would still reach beyond the canvas is scaled down to fit."""
    ax, ay = torch.deg2rad(p.tilt.to(device, dtype)).unbind(1)
    ca, sa, cb, sb = ax.cos(), ax.sin(), ay.cos(), ay.sin()
    zero, d = torch.zeros_like(ax), torch.full_like(ax, _DISTANCE)
    # sheet point (u, v, 0) -> rotated about x then y -> camera at distance d, focal length d
    rot = torch.stack([torch.stack([cb, sa * sb, zero], 1), torch.stack([zero, ca, zero], 1),
                       torch.stack([-sb, sa * cb, d], 1)], 1)                     # columns: u, v, 1
    h = rot * torch.stack([d, d, torch.ones_like(d)], 1).view(-1, 3, 1)
    corners = torch.tensor([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], device=device, dtype=dtype).T
    seen = h @ corners
    shrink = extent / (seen[:, :2] / seen[:, 2:]).abs().amax((1, 2)).clamp(min=extent)
    h = torch.diag_embed(torch.stack([shrink, shrink, torch.ones_like(shrink)], 1)) @ h
    gy, gx = torch.meshgrid(*(((torch.arange(k, device=device, dtype=dtype) * 2 + 1) / k - 1) * extent
                              for k in (hgt, wid)), indexing="ij")
    out = torch.stack([gx, gy, torch.ones_like(gx)], 0).reshape(3, -1)
    src = torch.linalg.inv(h) @ out                                                # image point -> sheet point
    return (src[:, :2] / src[:, 2:]).transpose(1, 2).reshape(-1, hgt, wid, 2)


def _light(x: torch.Tensor, p: PhysicalParams) -> torch.Tensor:
    n, _, hgt, wid = x.shape
    amp, angle, exposure = p.light.to(x.device, x.dtype).unbind(1)
    ys = torch.linspace(-0.5, 0.5, hgt, device=x.device, dtype=x.dtype).view(1, hgt, 1)
    xs = torch.linspace(-0.5, 0.5, wid, device=x.device, dtype=x.dtype).view(1, 1, wid)
    ramp = angle.cos().view(n, 1, 1) * xs + angle.sin().view(n, 1, 1) * ys
    gain = exposure.view(n, 1, 1) * (1 + amp.view(n, 1, 1) * ramp)
    return (x * gain.unsqueeze(1)).clamp(0, 1)


def printed(blocks: torch.Tensor, params: PhysicalParams, margin: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The printed, tilted, lit block (straight colour) and its coverage (0 where the tilted sheet leaves the
    scene visible), N×3 and N×1 × (s + 2·margin)², the block's s×s square in the middle. `blocks` is
    N×3×s×s or 3×s×s."""
    if blocks.dim() == 3:
        blocks = blocks.unsqueeze(0).expand(len(params), -1, -1, -1)
    x = _gamut(blocks, params)
    hgt, wid = x.shape[-2] + 2 * margin, x.shape[-1] + 2 * margin
    grid = _tilt_grid(params, hgt, wid, wid / x.shape[-1], x.device, x.dtype)
    ones = torch.ones_like(x[:, :1])
    warped = F.grid_sample(torch.cat([x, ones], 1), grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    alpha = warped[:, 3:]
    return _light(warped[:, :3] / alpha.clamp(min=1e-6), params) * (alpha > 0), alpha


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    n, c, hgt, wid = x.shape
    radius = max(1, math.ceil(3 * float(sigma.max())))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.to(x.device, x.dtype).view(n, 1)
    k = torch.where(s > 0, torch.exp(-0.5 * (t / s.clamp(min=1e-6)) ** 2), (t == 0).to(x.dtype))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)                      # (n·c)×taps
    y = F.pad(x.reshape(1, n * c, hgt, wid), (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, k.view(n * c, 1, 1, -1), groups=n * c)
    return F.conv2d(y, k.view(n * c, 1, -1, 1), groups=n * c).view(n, c, hgt, wid)


def _noise(x: torch.Tensor, p: PhysicalParams) -> torch.Tensor:
    fields = [torch.randn(x.shape[1:], generator=torch.Generator().manual_seed(int(s))) for s in p.seed]
    return (x + _col(p.noise, x) * torch.stack(fields).to(x.device, x.dtype)).clamp(0, 1)


_Q_LUMA = torch.tensor([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
                        56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
                        104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]) / 255
_Q_CHROMA = torch.tensor([17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5
                         + [47, 66] + [99] * 38) / 255
_YCC = torch.tensor([_LUMA, [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def _dct_basis(device, dtype) -> torch.Tensor:
    """The 64 orthonormal 8×8 DCT-II basis images, flattened (64×64; row u·8+v: vertical frequency u)."""
    i = torch.arange(8, dtype=torch.float64)
    m = torch.cos((2 * i[None] + 1) * i[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return (m[:, None, :, None] * m[None, :, None, :]).reshape(64, 64).to(device, dtype)


def _jpeg(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """JPEG round trip (YCbCr, 4:2:0 chroma, 8×8 DCT quantised by libjpeg's tables × `scale`), with the
    rounding straight-through. `scale` 0 leaves an image as it is."""
    n, _, hgt, wid = x.shape
    keep = (scale > 0).to(x.device)
    if not keep.any():
        return x
    ycc = _YCC.to(x.device, x.dtype)
    y = torch.einsum("ij,njhw->nihw", ycc, x)
    chroma = F.interpolate(F.avg_pool2d(y[:, 1:], 2, ceil_mode=True), size=(hgt, wid), mode="nearest")
    y = torch.cat([y[:, :1], chroma], 1)
    ph, pw = -hgt % 8, -wid % 8
    hb, wb = (hgt + ph) // 8, (wid + pw) // 8
    tiles = F.pad(y, (0, pw, 0, ph), mode="replicate").view(n, 3, hb, 8, wb, 8).permute(0, 1, 2, 4, 3, 5)
    basis = _dct_basis(x.device, x.dtype)
    coef = tiles.reshape(n, 3, hb, wb, 64) @ basis.T
    table = torch.stack([_Q_LUMA, _Q_CHROMA, _Q_CHROMA]).to(x.device, x.dtype).view(1, 3, 1, 1, 64)
    step = (table * _col(scale, x).view(n, 1, 1, 1, 1)).clamp(min=1e-6)
    coef = coef + ((coef / step).round() * step - coef).detach()                      # straight-through
    back = (coef @ basis).view(n, 3, hb, wb, 8, 8).permute(0, 1, 2, 4, 3, 5).reshape(n, 3, hb * 8, wb * 8)
    back = back[..., :hgt, :wid]
    rgb = torch.einsum("ij,njhw->nihw", torch.linalg.inv(ycc), back).clamp(0, 1)
    k = keep.to(x.dtype).view(n, 1, 1, 1)
    return k * rgb + (1 - k) * x


def camera(images: torch.Tensor, params: PhysicalParams) -> torch.Tensor:
    """Defocus, sensor noise and JPEG on N×3×H×W images in [0, 1]."""
    return _jpeg(_noise(_blur(images, params.blur), params), params.jpeg)


def paste_physical(images: torch.Tensor, block: torch.Tensor, where: PasteParams,
                   params: PhysicalParams) -> torch.Tensor:
    """:func:`blocks.paste.paste` of a printed block, then the camera: what the classifier sees when the
    block is a print held in the scene. Differentiable w.r.t. the block and the images."""
    lit = (block if block.dim() == 4 else block.unsqueeze(0)) * _col(where.brightness, images)
    margin = math.ceil(lit.shape[-1] * (SHEET_MARGIN - 1) / 2)
    sheet, alpha = printed(lit.clamp(0, 1), params, margin)
    flat = dataclasses.replace(where, side=where.side * sheet.shape[-1] / lit.shape[-1],
                               brightness=torch.ones_like(where.brightness))
    zeros = torch.zeros_like(images)
    cover = paste(zeros, alpha.expand(-1, 3, -1, -1), flat)[:, :1]
    return camera(images * (1 - cover) + paste(zeros, sheet * alpha, flat), params)


def physical(x: torch.Tensor, generator: torch.Generator | None = None, strength: float = 1.0) -> torch.Tensor:
    """All of it on N×3×H×W images as they are — each image is a print that fills the camera's view (tilted
    inside its frame, black around it). For a block pasted into a scene use :func:`paste_physical`."""
    params = sample_physical(x.shape[0], strength, generator)
    sheet, alpha = printed(x, params)
    return camera(sheet * alpha, params)
