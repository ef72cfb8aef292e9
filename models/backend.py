"""One small inference interface for the app: ONNX Runtime on CPU (fast), PyTorch otherwise.

    backend = make_backend(model, "auto")          # "auto" | "onnx" | "torch"
    logits, fmap = backend.infer(images)           # float32 N×3×S×S RGB [0,1] -> N×1000, N×C×h×w
    cam = np.einsum("k,nkhw->nhw", backend.fc_weight[c], fmap)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

from .errors import UserError

BACKENDS = ("auto", "onnx", "torch")


class Backend:
    """Base: `infer(images) -> (logits, fmap)` on numpy arrays; `fc_weight` (1000×C) for CAMs."""

    name: str = ""
    device: str = "cpu"
    input_size: int = 224
    model_name: str = ""
    class_names: list[str]
    fc_weight: np.ndarray

    def __init__(self, model: torch.nn.Module):
        self.input_size = int(model.input_size)
        self.model_name = str(model.name)
        self.class_names = list(model.class_names)
        self.fc_weight = model.fc_weight.detach().float().cpu().numpy().copy()

    def _check(self, images) -> np.ndarray:
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        images = np.ascontiguousarray(images, dtype=np.float32)
        s = self.input_size
        if images.ndim != 4 or images.shape[1:] != (3, s, s):
            raise ValueError(f"{self.name} backend wants float32 N×3×{s}×{s} images, got shape {images.shape}")
        return images

    def infer(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 N×3×S×S RGB [0,1] -> (logits N×1000 float32, fmap N×C×h×w float32)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} on {self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_name} {self.describe()}>"


class TorchBackend(Backend):
    """The PixelClassifier itself, on its own device, under torch.inference_mode."""

    name = "torch"

    def __init__(self, model: torch.nn.Module):
        super().__init__(model)
        self.model = model.eval()
        self._device = next(model.parameters()).device
        self.device = self._device.type

    def infer(self, images):
        x = torch.from_numpy(self._check(images)).to(self._device)
        with torch.inference_mode():
            logits, fmap = self.model.features(x)
        return logits.float().cpu().numpy(), fmap.float().cpu().numpy()


class OnnxBackend(Backend):
    """ONNX Runtime on CPU (CPUExecutionProvider, all graph optimisations) over the cached export."""

    name = "onnx"
    device = "cpu"

    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        super().__init__(model)
        import onnxruntime  # noqa: F401  (ImportError -> not available)

        from . import onnx as onnx_export

        self.threads = int(threads or os.cpu_count() or 1)
        self.path = onnx_export.cached_onnx(model)
        try:
            self.session = onnx_export._ort_session(self.path, self.threads)
        except Exception:   # parses but onnxruntime refuses it: export again, once
            self.path = onnx_export.cached_onnx(model, rebuild=True)
            self.session = onnx_export._ort_session(self.path, self.threads)
        self._outputs = list(onnx_export.OUTPUT_NAMES)
        self._input = onnx_export.INPUT_NAME

    def infer(self, images):
        logits, fmap = self.session.run(self._outputs, {self._input: self._check(images)})
        return logits, fmap

    def describe(self) -> str:
        import onnxruntime

        return f"onnx (onnxruntime {onnxruntime.__version__}, cpu, {self.threads} threads)"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def make_backend(model: torch.nn.Module, backend: str = "auto", threads: int | None = None) -> Backend:
    """Pick the inference backend for `model` (a PixelClassifier).

    "auto": ONNX Runtime when the model is on CPU and ONNX works, else torch (with one warning line on
    stderr saying why when ONNX was tried and failed). "onnx": ONNX Runtime on CPU or UserError.
    "torch": the model itself on its device.
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (use {', '.join(BACKENDS)})")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise UserError(f"threads must be a positive integer, got {threads!r}")
    on_cuda = next(model.parameters()).device.type != "cpu"
    if backend == "torch" or (backend == "auto" and on_cuda):
        return TorchBackend(model)
    try:
        return OnnxBackend(model, threads)
    except UserError:
        raise
    except Exception as exc:
        if backend == "onnx":
            raise UserError(f"ONNX backend not available: {_one_line(exc)} (choose the torch or auto backend)") from None
        print(f"warning: ONNX backend not available ({_one_line(exc)}); using torch on cpu instead", file=sys.stderr)
        return TorchBackend(model)
