"""Checkpoints: safetensors weights with the config and metrics in the header metadata.

Loading rebuilds the model from its config, checks every tensor's name and shape, and never
unpickles: safetensors holds raw tensors only, and PyTorch `.pt`/`.pth` state dicts are read
with `torch.load(weights_only=True)`, which refuses to run code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .model import CELLS, ModelConfig, RowClassifier

FORMAT = "lstmviz/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "lstm.safetensors"
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, with what its metadata said."""

    model: RowClassifier
    config: ModelConfig
    metrics: dict = field(default_factory=dict)
    source: str = ""
    sha256: str = ""


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 over the state dict's names, shapes and bytes: the model's identity."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def checkpoint_bytes(model: RowClassifier, metrics: dict | None = None) -> bytes:
    """The safetensors file for a model, as bytes."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "config": json.dumps(model.config.to_dict()),
        "metrics": json.dumps(metrics or {}),
    }
    return st_save(tensors, metadata=meta)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temp file beside `path`, fsync, then rename over it: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a checkpoint is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, model: RowClassifier, metrics: dict | None = None) -> Path:
    """Save weights + config + metrics atomically."""
    return atomic_write_bytes(path, checkpoint_bytes(model, metrics))


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name and shape a model of this config has (built on the meta device: no memory)."""
    with torch.device("meta"):
        model = RowClassifier(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _build(config: ModelConfig, tensors: dict[str, torch.Tensor], name: str) -> RowClassifier:
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing}")
        if extra:
            parts.append(f"unexpected tensors {extra}")
        raise CheckpointError(f"{name}: not an lstmviz {config.cell} model: " + "; ".join(parts))
    for k, shape in expected.items():
        t = tensors[k]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{name}: entry '{k}' is not a tensor")
        if tuple(t.shape) != shape:
            raise CheckpointError(
                f"{name}: tensor '{k}' has shape {tuple(t.shape)}, expected {shape} for config {config}"
            )
        if not t.is_floating_point():
            raise CheckpointError(f"{name}: tensor '{k}' has dtype {t.dtype}, expected floating point")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{name}: tensor '{k}' holds NaN or infinite values")
    model = RowClassifier(config)
    model.load_state_dict({k: tensors[k].to(torch.float32) for k in expected})
    model.eval()
    return model


def infer_config(tensors: dict[str, torch.Tensor], name: str = "checkpoint") -> ModelConfig:
    """Recover the config of a bare state dict from its shapes (for `.pt` uploads)."""
    try:
        p, i = tensors["proj.weight"].shape
        n_classes, h = tensors["head.weight"].shape
        gates = tensors["rnn.weight_ih_l0"].shape[0] // h
    except (KeyError, ValueError, AttributeError, ZeroDivisionError, IndexError, TypeError):
        raise CheckpointError(
            f"{name}: not an lstmviz state dict (needs proj.weight, rnn.weight_ih_l0, head.weight)"
        ) from None
    cell = {4: "lstm", 3: "gru", 1: "rnn"}.get(gates)
    if cell is None:
        raise CheckpointError(f"{name}: rnn.weight_ih_l0 has {gates}x the hidden size; no known cell has that")
    try:
        return ModelConfig(input_size=int(i), proj_size=int(p), hidden_size=int(h), n_classes=int(n_classes), cell=cell)
    except ValueError as exc:
        raise CheckpointError(f"{name}: {exc}") from None


def _parse_safetensors(data: bytes, name: str) -> LoadedModel:
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{name}: not a valid safetensors file ({exc})") from None
    try:
        header_len = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{name}: unreadable safetensors header") from None
    if meta.get("format") != FORMAT:
        config = infer_config(tensors, name)
        metrics = {}
    else:
        try:
            config = ModelConfig.from_dict(json.loads(meta["config"]))
            metrics = json.loads(meta.get("metrics") or "{}")
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{name}: bad config in metadata ({exc})") from None
        if config.cell not in CELLS:
            raise CheckpointError(f"{name}: unknown cell {config.cell!r}")
    model = _build(config, tensors, name)
    return LoadedModel(model, config, metrics if isinstance(metrics, dict) else {}, name, hashlib.sha256(data).hexdigest())


def _parse_torch(data: bytes, name: str) -> LoadedModel:
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for hostile pickles, others for junk
        text = str(exc).strip()
        # torch's refusal starts with advice to load unsafely; the reason is the WeightsUnpickler line
        reason = re.search(r"WeightsUnpickler error: ([^\n]*?\.)(?: |$)", text)
        first = reason.group(1) if reason else (text.splitlines()[0] if text else type(exc).__name__)
        raise CheckpointError(
            f"{name}: refused to load as a PyTorch state dict (only plain tensors are allowed; {first[:300]})"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise CheckpointError(f"{name}: a .pt upload must hold a state dict (name -> tensor)")
    tensors = {k.removeprefix("module."): v for k, v in obj.items()}
    config = infer_config(tensors, name)
    model = _build(config, tensors, name)
    return LoadedModel(model, config, {}, name, hashlib.sha256(data).hexdigest())


def load_checkpoint_bytes(data: bytes, name: str = "uploaded file") -> LoadedModel:
    """Rebuild a model from the bytes of a `.safetensors` file or a `.pt`/`.pth` state dict."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{name}: {len(data)} bytes is too large for a checkpoint")
    if len(data) < 8:
        raise CheckpointError(f"{name}: file is empty or truncated ({len(data)} bytes)")
    header_len = int.from_bytes(data[:8], "little")
    # A safetensors file: 8-byte header length, then a JSON object (its first byte can be 0x80).
    is_safetensors = 8 + header_len <= len(data) and data[8:9] == b"{"
    is_zip = data[:4] == b"PK\x03\x04"
    is_pickle = data[:1] == b"\x80"
    if not is_safetensors and (name.lower().endswith((".pt", ".pth")) or is_zip or is_pickle):
        return _parse_torch(data, name)
    return _parse_safetensors(data, name)


def load_checkpoint(path: str | os.PathLike | None = None) -> LoadedModel:
    """Load a checkpoint file (the shipped default when path is None)."""
    path = Path(path) if path else DEFAULT_CHECKPOINT
    try:
        size = path.stat().st_size
        if size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path}: {size} bytes is too large for a checkpoint")
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    loaded = load_checkpoint_bytes(data, str(path))
    return loaded
