"""Export a PixelClassifier to ONNX (both outputs: logits and the last feature map) and cache the file.

The exported graph takes "images" (float32 N×3×S×S, RGB in [0,1], dynamic batch) and returns
"logits" (N×1000) and "fmap" (N×C×h×w), exactly like `PixelClassifier.features`.

The cache lives next to the weights file, named ``<model name>-<key>.onnx`` where the key is the first
12 hex digits of a sha256 over EXPORT_FORMAT and the weights file's sha256, so changing the weights (or
the way we export) gives a new file. When that folder is not writable the cache goes to
``$XDG_CACHE_HOME/chicken-saviour`` (default ``~/.cache/chicken-saviour``).
"""
from __future__ import annotations

import copy
import hashlib
import os
import tempfile
import uuid
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

# The legacy TorchScript exporter (dynamo=False): the dynamo exporter needs onnxscript (not installed),
# and the legacy one gives a correct graph with a dynamic batch axis for this model. Opset 17 is well
# inside what it and onnxruntime support.
OPSET = 17
# Bump when the wrapper, exporter settings or post-processing change: it is part of the cache key.
EXPORT_FORMAT = f"chicken-saviour-onnx-v1-opset{OPSET}"
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "fmap")
VERIFY_ATOL = 1e-3   # export self-check: max |onnx − torch| on logits and fmap for random inputs

_hash_cache: dict[tuple, str] = {}


class _Features(nn.Module):
    """forward(images) -> (logits, fmap), the two outputs the app needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, fmap = self.model.features(images)
        return logits, fmap


def _ort_session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(threads or os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3   # errors only: no shape-merge chatter on stderr
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def export_onnx(model: nn.Module, path: str | Path, *, metadata: dict[str, str] | None = None,
                verify: bool = True) -> Path:
    """Export `model` (a PixelClassifier) to `path` atomically (temp file + rename) and return the path.

    With `verify`, the fresh file is run in onnxruntime at batch 1 and 2 and compared with torch
    (max abs diff ≤ VERIFY_ATOL); a mismatch raises RuntimeError and leaves no file behind.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = int(model.input_size)
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    wrapper = _Features(model if on_cpu else copy.deepcopy(model).cpu()).eval()
    # trace at batch 2 so nothing in the graph specialises to a batch of 1
    dummy = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # TracerWarnings and constant-folding notes: harmless here
            ref_logits, ref_fmap = wrapper(dummy)
            torch.onnx.export(
                wrapper, (dummy,), str(tmp), dynamo=False, opset_version=OPSET,
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: {0: "batch"}, "logits": {0: "batch"}, "fmap": {0: "batch"}},
                do_constant_folding=True, export_params=True)
        proto = onnx.load(str(tmp))
        # The legacy exporter's symbolic shapes can be odd (fmap came out as batch×1280×batch×?); state the
        # true output shapes and drop intermediate annotations (onnxruntime infers its own).
        for out, ref in zip(proto.graph.output, (ref_logits, ref_fmap)):
            dims = out.type.tensor_type.shape.dim
            for i, d in enumerate(dims):
                if i == 0:
                    d.dim_param = "batch"
                else:
                    d.dim_value = int(ref.shape[i])
        del proto.graph.value_info[:]
        meta = {"export_format": EXPORT_FORMAT, "model_name": str(getattr(model, "name", "")),
                "input_size": str(size), "torch_version": torch.__version__, **(metadata or {})}
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, str(v)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        if verify:
            _verify(tmp, dummy, (ref_logits, ref_fmap))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _verify(path: Path, images: torch.Tensor, want: tuple[torch.Tensor, ...]) -> None:
    """Run the export in onnxruntime at batch 1 and at the traced batch; compare with torch's outputs."""
    sess = _ort_session(path)
    for n in (1, len(images)):
        got = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: images[:n].numpy()})
        for name, g, w in zip(OUTPUT_NAMES, got, want):
            w = w[:n].numpy()
            if g.shape != w.shape or not np.allclose(g, w, rtol=0, atol=VERIFY_ATOL):
                diff = float(np.abs(g - w).max()) if g.shape == w.shape else float("nan")
                raise RuntimeError(f"exported ONNX {name} disagrees with torch at batch {n} "
                                   f"(shape {g.shape} vs {w.shape}, max abs diff {diff:.3g})")


def weights_digest(path: str | Path) -> str:
    """sha256 hex of a file, remembered per (path, size, mtime, inode) so repeated calls are free."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _hash_cache:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


def cache_key(model: nn.Module) -> str:
    """First 12 hex of sha256(EXPORT_FORMAT, model name, input size, sha256 of the weights file)."""
    tag = f"{EXPORT_FORMAT}\n{model.name}\n{model.input_size}\n{weights_digest(model.weights_path)}"
    return hashlib.sha256(tag.encode()).hexdigest()[:12]


def fallback_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "chicken-saviour"


def cache_dirs(model: nn.Module) -> list[Path]:
    """Where cached exports are looked for, in order: beside the weights, then the user cache."""
    return [Path(model.weights_path).absolute().parent, fallback_cache_dir()]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
        return True
    except OSError:
        return False


def _loads(path: Path) -> bool:
    """Cheap integrity check: parses as ONNX, passes the checker, has our input/output names and format."""
    import onnx

    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception:
        return False
    meta = {p.key: p.value for p in proto.metadata_props}
    return ([i.name for i in proto.graph.input] == [INPUT_NAME]
            and tuple(o.name for o in proto.graph.output) == OUTPUT_NAMES
            and meta.get("export_format") == EXPORT_FORMAT)


def cached_onnx(model: nn.Module, *, rebuild: bool = False) -> Path:
    """The ONNX export of `model`, from the cache when a valid one exists, else exported now.

    The in-memory model must hold the weights in `model.weights_path` (the key is the file's hash).
    A cached file that fails to load is exported again once; `rebuild=True` forces a new export.
    """
    digest = weights_digest(model.weights_path)
    name = f"{model.name}-{cache_key(model)}.onnx"
    dirs = cache_dirs(model)
    stale = []
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            if not rebuild and _loads(candidate):
                return candidate
            stale.append(candidate)
    target = next((folder for folder in dirs if _writable(folder)), None)
    if target is None:
        raise RuntimeError(f"no writable folder for the ONNX cache (tried {', '.join(map(str, dirs))})")
    path = export_onnx(model, target / name, metadata={"weights_sha256": digest,
                                                       "weights_file": Path(model.weights_path).name})
    if not _loads(path):
        raise RuntimeError(f"freshly exported {path} does not load")
    for old in stale:
        if old != path:
            try:
                old.unlink()
            except OSError:
                pass
    return path
