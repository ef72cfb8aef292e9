"""One small inference interface for the app: ONNX Runtime on CPU (fast), PyTorch otherwise.

    backend = make_backend(model, "auto")          # "auto" | "onnx" | "torch"
    logits, fmap = backend.infer(images)           # float32 N×3×S×S RGB [0,1] -> N×1000, N×C×h×w
    logits, fmap = backend.infer_pair(frame, pasted, changed)   # two 3×S×S inputs that differ in a small region
    cam = np.einsum("k,nkhw->nhw", backend.fc_weight[c], fmap)

`infer_pair` gives what `infer(np.stack([frame, pasted]))` gives, but recomputes only the region the paste
changed in the network's local front half (models.incremental); `incremental = False` turns that off.
"""
from __future__ import annotations

import os
import sys
import threading

import numpy as np
import torch

from . import incremental as inc
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

    incremental: bool = True

    def __init__(self, model: torch.nn.Module):
        self.input_size = int(model.input_size)
        self.model_name = str(model.name)
        self.class_names = list(model.class_names)
        self.fc_weight = model.fc_weight.detach().float().cpu().numpy().copy()
        self.window = tuple(model.window)

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

    def halves(self, wait: bool = False):
        """(front, back) numpy functions for incremental inference, or None when not (yet) available
        (`wait`: block until a background load, if any, has finished)."""
        return None

    def infer_pair(self, before: np.ndarray, after: np.ndarray,
                   changed: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Two 3×S×S inputs -> (logits 2×1000, fmap 2×C×h×w), as `infer` of the pair would give.
        `changed` (y0, y1, x0, x1): the input pixels outside which `after` equals `before`, when the caller
        knows (the app: where it pasted); otherwise the two are compared to find them."""
        halves = self.halves() if self.incremental else None
        if halves is None:
            return self.infer(np.stack([before, after]))
        before, after = self._check(before[None])[0], self._check(after[None])[0]
        return inc.infer_pair(*halves, self.window, before, after, changed)

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

    def _front(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.model.front(torch.from_numpy(x)).numpy()

    def _back(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            logits, fmap = self.model.back(torch.from_numpy(f))
        return logits.numpy(), fmap.numpy()

    def halves(self, wait: bool = False):
        # on a GPU the pair is one batch anyway; moving features to and fro would cost more than it saves
        return (self._front, self._back) if self._device.type == "cpu" else None


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
        self._model = model
        self._halves = None
        self._halves_error: str | None = None
        self._loader: threading.Thread | None = None

    def infer(self, images):
        logits, fmap = self.session.run(self._outputs, {self._input: self._check(images)})
        return logits, fmap

    def _load_halves(self) -> None:
        from . import onnx as onnx_export
        try:
            front = onnx_export._ort_session(onnx_export.cached_onnx(self._model, part="front"), self.threads)
            back = onnx_export._ort_session(onnx_export.cached_onnx(self._model, part="back"), self.threads)
        except Exception as exc:     # the whole-model path keeps working; say why once
            self._halves_error = _one_line(exc)
            print(f"warning: incremental inference not available ({self._halves_error}); "
                  "classifying both images in full", file=sys.stderr)
            return
        (f_in,), f_out = onnx_export.PARTS["front"]
        (b_in,), b_out = onnx_export.PARTS["back"]
        self._halves = (lambda x: front.run(list(f_out), {f_in: x})[0],
                        lambda f: tuple(back.run(list(b_out), {b_in: f})))

    def halves(self, wait: bool = False):
        """The front/back sessions, loaded (exported the first time) on a background thread at the first
        call, so neither start-up nor the first frames wait for them; None until they are ready. Not a daemon
        thread: a process ending while ONNX Runtime builds a session in a daemon thread aborts ("terminate called
        without an active exception", exit 134), so a short run's exit waits for the load to finish."""
        if self._halves is None and self._halves_error is None:
            if self._loader is None:
                self._loader = threading.Thread(target=self._load_halves, name="onnx-halves", daemon=False)
                self._loader.start()
            if wait:
                self._loader.join()
        return self._halves

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
            raise UserError(f"ONNX backend not available: {_one_line(exc)} "
                            "(choose the torch or auto backend)") from None
        print(f"warning: ONNX backend not available ({_one_line(exc)}); using torch on cpu instead", file=sys.stderr)
        return TorchBackend(model)
