"""Export a PixelClassifier to ONNX (both outputs: logits and the last feature map) and cache the file.

The exported graph takes "images" (float32 N×3×S×S, RGB in [0,1], dynamic batch) and returns
"logits" (N×1000) and "fmap" (N×C×h×w), exactly like `PixelClassifier.features`.
Its two halves are exported too (`part="front"`: "images" N×3×H×W with any H, W -> "feats";
`part="back"`: "feats" -> "logits", "fmap"), for classifying a frame and its pasted twin without paying
twice for the shared part (models.incremental).

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

from .paths import user_cache

# The legacy TorchScript exporter (dynamo=False): the dynamo exporter needs onnxscript (not installed),
# and the legacy one gives a correct graph with a dynamic batch axis for this model. Opset 17 is well
# inside what it and onnxruntime support.
OPSET = 17
# Bump when the wrapper, exporter settings or post-processing change: it is part of the cache key.
EXPORT_FORMAT = f"chicken-saviour-onnx-v1-opset{OPSET}"
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "fmap")
# part -> (input names, output names); "full" is the whole classifier
PARTS = {"full": ((INPUT_NAME,), OUTPUT_NAMES), "front": ((INPUT_NAME,), ("feats",)),
         "back": (("feats",), OUTPUT_NAMES)}
VERIFY_ATOL = 1e-3   # export self-check: max |onnx − torch| on logits and fmap for random inputs

_hash_cache: dict[tuple, str] = {}


class _Part(nn.Module):
    """forward(...) of one part: "full" = model.features, "front" = model.front, "back" = model.back."""

    def __init__(self, model: nn.Module, part: str):
        super().__init__()
        self.model = model
        self.fn = {"full": model.features, "front": model.front, "back": model.back}[part]

    def forward(self, x: torch.Tensor):
        return self.fn(x)


def _dummy(model: nn.Module, part: str) -> torch.Tensor:
    """A traced input: batch 2 so nothing specialises to a batch of 1; the front at a non-square size so
    nothing specialises to the full image."""
    size = int(model.input_size)
    gen = torch.Generator().manual_seed(0)
    if part == "front":
        return torch.rand(2, 3, size - 32, size - 64, generator=gen)
    x = torch.rand(2, 3, size, size, generator=gen)
    return model.front(x) if part == "back" else x


def _ort_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session on `threads` intra-op threads (default: all cores)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(threads or os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3   # errors only: no shape-merge chatter on stderr
    # Idle pool threads sleep instead of spinning: a spinning worker burns the core that the app's other
    # threads (frame source, paste, drawing) need; measured 61 vs 55 FPS in the app for ~3% slower
    # single inferences.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def export_onnx(model: nn.Module, path: str | Path, *, metadata: dict[str, str] | None = None,
                verify: bool = True, part: str = "full") -> Path:
    """Export `model` (a PixelClassifier), or one `part` of it, to `path` atomically (temp file + rename)
    and return the path.

    With `verify`, the fresh file is run in onnxruntime at batch 1 and 2 and compared with torch
    (max abs diff ≤ VERIFY_ATOL); a mismatch raises RuntimeError and leaves no file behind.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    wrapper = _Part(model if on_cpu else copy.deepcopy(model).cpu(), part).eval()
    inputs, outputs = PARTS[part]
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        dummy, ref, axes = _trace(wrapper, part, tmp)
        proto = onnx.load(str(tmp))
        _state_shapes(proto, ref, axes)
        meta = {"export_format": EXPORT_FORMAT, "model_name": str(getattr(model, "name", "")), "part": part,
                "input_size": str(int(model.input_size)), "torch_version": torch.__version__, **(metadata or {})}
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, str(v)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        if verify:
            _verify(tmp, dummy, ref, inputs[0], outputs)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _axes(part: str) -> dict[str, dict[int, str]]:
    """The dynamic axes of a part's inputs and outputs: the batch, and for the front any crop of the image
    (multiples of the stride)."""
    inputs, outputs = PARTS[part]
    axes = {name: {0: "batch"} for name in inputs + outputs}
    if part == "front":
        axes[INPUT_NAME] = {0: "batch", 2: "height", 3: "width"}
        axes["feats"] = {0: "batch", 2: "rows", 3: "cols"}
    return axes


def _trace(wrapper: _Part, part: str, tmp: Path) -> tuple[torch.Tensor, tuple, dict]:
    """Export `wrapper` to `tmp` with the legacy exporter; returns (the traced input, torch's outputs on it,
    the dynamic axes)."""
    inputs, outputs = PARTS[part]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # TracerWarnings and constant-folding notes: harmless here
        dummy = _dummy(wrapper.model, part)
        ref = wrapper(dummy)
        ref = ref if isinstance(ref, tuple) else (ref,)
        axes = _axes(part)
        torch.onnx.export(
            wrapper, (dummy,), str(tmp), dynamo=False, opset_version=OPSET,
            input_names=list(inputs), output_names=list(outputs), dynamic_axes=axes,
            do_constant_folding=True, export_params=True)
    return dummy, ref, axes


def _state_shapes(proto, ref: tuple, axes: dict) -> None:
    """The legacy exporter's symbolic shapes can be odd (fmap came out as batch×1280×batch×?); state the
    true output shapes and drop intermediate annotations (onnxruntime infers its own)."""
    for out, r in zip(proto.graph.output, ref):
        dims = out.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if i in axes[out.name]:
                d.dim_param = axes[out.name][i]
            else:
                d.dim_value = int(r.shape[i])
    del proto.graph.value_info[:]


def _verify(path: Path, x: torch.Tensor, want: tuple[torch.Tensor, ...], input_name: str = INPUT_NAME,
            output_names: tuple[str, ...] = OUTPUT_NAMES) -> None:
    """Run the export in onnxruntime at batch 1 and at the traced batch; compare with torch's outputs."""
    sess = _ort_session(path)
    for n in (1, len(x)):
        got = sess.run(list(output_names), {input_name: x[:n].numpy()})
        for name, g, w in zip(output_names, got, want):
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
    return user_cache()


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


_CHECKED: dict[tuple, bool] = {}      # (path, size, mtime, part) -> _loads' answer, for this process


def _loads(path: Path, part: str = "full") -> bool:
    """Integrity check: parses as ONNX, passes the checker, has the part's input/output names and our format.
    Answered once per process for a file unchanged since (another backend in the same process, e.g. the
    test suite or a benchmark, does not parse the 20 MB file again)."""
    try:
        st = Path(path).stat()
    except OSError:
        return False
    key = (str(path), st.st_size, st.st_mtime_ns, part)
    if key not in _CHECKED:
        _CHECKED[key] = _check(path, part)
    return _CHECKED[key]


def _check(path: Path, part: str) -> bool:
    import onnx

    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception:
        return False
    meta = {p.key: p.value for p in proto.metadata_props}
    inputs, outputs = PARTS[part]
    return (tuple(i.name for i in proto.graph.input) == inputs
            and tuple(o.name for o in proto.graph.output) == outputs
            and meta.get("export_format") == EXPORT_FORMAT and meta.get("part", "full") == part)


def cached_onnx(model: nn.Module, *, rebuild: bool = False, part: str = "full") -> Path:
    """The ONNX export of `model` (or of one `part`, see PARTS), from the cache when a valid one exists,
    else exported now: ``<model>-<key>.onnx`` for the whole, ``<model>-<key>.<part>.onnx`` for a part.

    The in-memory model must hold the weights in `model.weights_path` (the key is the file's hash).
    A cached file that fails to load is exported again once; `rebuild=True` forces a new export.
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {sorted(PARTS)}, got {part!r}")
    digest = weights_digest(model.weights_path)
    name = f"{model.name}-{cache_key(model)}" + ("" if part == "full" else f".{part}") + ".onnx"
    dirs = cache_dirs(model)
    stale = []
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            if not rebuild and _loads(candidate, part):
                return candidate
            stale.append(candidate)
    target = next((folder for folder in dirs if _writable(folder)), None)
    if target is None:
        raise RuntimeError(f"no writable folder for the ONNX cache (tried {', '.join(map(str, dirs))})")
    path = export_onnx(model, target / name, part=part,
                       metadata={"weights_sha256": digest, "weights_file": Path(model.weights_path).name})
    if not _loads(path, part):
        raise RuntimeError(f"freshly exported {path} does not load")
    for old in stale:
        if old != path:
            try:
                old.unlink()
            except OSError:
                pass
    return path
