"""Checkpoints: safetensors weights with the config and metrics in the header metadata.

Loading rebuilds the model from its config, checks every tensor's name and shape, and never
unpickles: safetensors holds raw tensors only, and PyTorch `.pt`/`.pth` state dicts are read
with `torch.load(weights_only=True)`, which refuses to run code.

Nothing large is allocated before the file is known to be sane: a safetensors header is parsed and
every shape checked against the architecture before any tensor is read; a `.pt` zip archive must
hold only stored (uncompressed) entries whose sizes add up to no more than the file itself
(`torch.save` never compresses, so a deflated entry can only be a "zip bomb"), and its pickle is
scanned for code references before `torch.load` sees it.

Reading a header, listing and identifying a checkpoint (`read_checkpoint_info`) need no torch: torch is
imported by the functions that build or save a model, so the app's first page can do without it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import pickletools
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError

from .config import CELLS, MAX_HIDDEN, MAX_LAYERS, ModelConfig, state_shapes
from .safeio import read_limited

if TYPE_CHECKING:
    import torch

    from .model import RowClassifier

FORMAT = "lstmviz/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "lstm.safetensors"
MAX_CHECKPOINT_BYTES = 64 * 1024 * 1024  # a hidden-512 model in float64 is about 20 MB
MAX_HEADER_BYTES = 16 * 1024 * 1024
# What the app is built to show: 28 features per row, 10 digits, 16 to 512 units in 1 to 3 layers (the limits
# are model.py's MIN_HIDDEN, MAX_HIDDEN, MAX_LAYERS; ModelConfig enforces them).
INPUT_SIZE = 28
N_CLASSES = 10
MAX_EMBED = 512
_LAYER_KEY = re.compile(r"rnn\.weight_ih_l(\d+)")
_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
# Globals a plain state dict saved by torch.save refers to; anything else is reported as code.
_TENSOR_GLOBALS = {
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "collections.OrderedDict",
    "torch.serialization._get_layout",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._tensor._rebuild_from_type_v2",
    "torch.device",
    "torch.Size",
}
RESAVE_HINT = (
    "To use such a model, load it where you trust it and re-save only its weights: "
    "torch.save(model.state_dict(), 'model.pt')."
)


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


_FLOAT_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}  # safetensors dtypes numpy reads; BF16 apart


def _as_float32(raw: bytes, dtype: str, count: int) -> np.ndarray | None:
    """The values of one safetensors tensor as float32 (as `_build` converts them), or None if not floating."""
    if dtype == "BF16":  # the top half of a float32
        return (np.frombuffer(raw, "<u2", count).astype(np.uint32) << 16).view(np.float32)
    if dtype not in _FLOAT_DTYPES:
        return None
    return np.frombuffer(raw, _FLOAT_DTYPES[dtype], count).astype(np.float32)


@dataclass(frozen=True)
class CheckpointInfo:
    """A safetensors checkpoint read without torch: its config, metrics, parameter count and weights hash
    (`weights_hash` of the model it loads: the model's identity for every stored result)."""

    config: ModelConfig
    metrics: dict
    n_params: int
    weights: str
    source: str = ""


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """What `load_checkpoint` would give, but the module, read from a safetensors file with numpy (no torch).

    The file is checked as `load_checkpoint` checks it (header, config, shapes, floating-point and finite
    values); raises CheckpointError otherwise. `.pt` files and anything else: load them (load_checkpoint).
    """
    name = str(path)
    data = _read_file(Path(path))
    header = header_bytes(data[: 8 + MAX_HEADER_BYTES], len(data), name)
    config, metrics, n_params = parse_header(header, len(data), name)  # every name, shape and byte range checked
    entries = json.loads(header)
    entries.pop("__metadata__", None)
    base = 8 + len(header)
    h = hashlib.sha256()
    for key in sorted(entries):  # weights_hash: sorted state-dict names
        entry = entries[key]
        shape = tuple(int(v) for v in entry["shape"])
        begin, stop = (int(v) for v in entry["data_offsets"])
        values = _as_float32(data[base + begin : base + stop], entry["dtype"], math.prod(shape))
        if values is None:
            raise CheckpointError(f"{name}: tensor '{key}' has dtype {entry['dtype']}, expected floating point")
        if not np.isfinite(values).all():
            raise CheckpointError(f"{name}: tensor '{key}' holds NaN or infinite values")
        h.update(key.encode())
        h.update(str(shape).encode())
        h.update(values.tobytes())
    return CheckpointInfo(config, metrics, n_params, h.hexdigest(), name)


def checkpoint_bytes(model: RowClassifier, metrics: dict | None = None) -> bytes:
    """The safetensors file for a model, as bytes."""
    from safetensors.torch import save as st_save

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
    """Every tensor name and shape a model of this config has (`config.state_shapes`: no torch, no memory)."""
    return state_shapes(config)


def check_config(config: ModelConfig, name: str) -> ModelConfig:
    """Refuse a config this app cannot show: rows of 28 pixels in, 10 digits out, at most 512 units.

    Whatever a file's metadata claims, these are checked before any weight is read, so a model that
    would crash at its first forward pass (a 27-input projection, 12 classes) never loads.
    """
    if config.cell not in CELLS:
        raise CheckpointError(f"{name}: unknown cell {config.cell!r}")
    if config.input_size != INPUT_SIZE:
        raise CheckpointError(
            f"{name}: the model reads rows of {config.input_size} numbers; an MNIST row has "
            f"{INPUT_SIZE} pixels, so this model cannot read these digits"
        )
    if config.n_classes != N_CLASSES:
        classes = f"{config.n_classes} output class" + ("" if config.n_classes == 1 else "es")
        raise CheckpointError(f"{name}: the model has {classes}; this app needs {N_CLASSES}, one per digit")
    _refuse_too_large(config.to_dict(), name)
    return config


def _refuse_too_large(raw: object, name: str) -> None:
    """A config (a dict, maybe from a file's metadata) with more units than the app shows: a clear refusal."""
    if not isinstance(raw, dict):
        return
    h, p = raw.get("hidden_size"), raw.get("embed_size", raw.get("proj_size"))
    if any(isinstance(v, int) and v > top for v, top in ((h, MAX_HIDDEN), (p, MAX_EMBED))):
        raise CheckpointError(
            f"{name}: hidden size {h} / projection {p} is larger than this app shows (at most {MAX_HIDDEN} units)"
        )


def _check_shapes(shapes: dict[str, tuple[int, ...]], config: ModelConfig, name: str) -> None:
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:6]}")
        if extra:
            parts.append(f"unexpected tensors {extra[:6]}")
        raise CheckpointError(f"{name}: not an lstmviz {config.cell} model: " + "; ".join(parts))
    for k, shape in expected.items():
        if shapes[k] != shape:
            raise CheckpointError(f"{name}: tensor '{k}' has shape {shapes[k]}, expected {shape} for config {config}")


def _build(config: ModelConfig, tensors: dict[str, torch.Tensor], name: str) -> RowClassifier:
    import torch

    from .model import RowClassifier

    check_config(config, name)
    for k, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{name}: entry '{k}' is not a tensor")
    _check_shapes({k: tuple(t.shape) for k, t in tensors.items()}, config, name)
    for k, t in tensors.items():
        if not t.is_floating_point():
            raise CheckpointError(f"{name}: tensor '{k}' has dtype {t.dtype}, expected floating point")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{name}: tensor '{k}' holds NaN or infinite values")
    model = RowClassifier(config)
    model.load_state_dict({k: tensors[k].to(torch.float32) for k in tensors})
    model.eval()
    return model


def count_layers(names, name: str = "checkpoint") -> int:
    """The number of stacked recurrent layers from the tensor names `rnn.weight_ih_l{k}` (k = 0..L-1); refuses
    holes, more than MAX_LAYERS layers, and torch layers this app does not show (bidirectional, proj_size)."""
    names = list(names)
    if any(k.startswith("rnn.") and k.endswith("_reverse") for k in names):
        raise CheckpointError(
            f"{name}: a bidirectional recurrent layer (tensors '*_reverse'); this app shows one direction"
        )
    if any(k.startswith("rnn.weight_hr_l") for k in names):
        raise CheckpointError(f"{name}: an LSTM with a projected hidden state (nn.LSTM proj_size); not supported")
    found = sorted(int(m.group(1)) for k in names if (m := _LAYER_KEY.fullmatch(k)))
    if not found:
        return 0
    if found != list(range(len(found))):
        missing = sorted(set(range(max(found) + 1)) - set(found))
        raise CheckpointError(
            f"{name}: recurrent layers {found} are present but layer {missing[0]} is missing "
            f"(a stack has layers 0, 1, ... with no holes)"
        )
    if len(found) > MAX_LAYERS:
        raise CheckpointError(f"{name}: {len(found)} stacked recurrent layers; this app shows 1 to {MAX_LAYERS}")
    return len(found)


def infer_config(shapes: dict, name: str = "checkpoint") -> ModelConfig:
    """Recover the config of a bare state dict from its tensor names and shapes (tensors or shape tuples): the
    cell from layer 0's gate count, the number of stacked layers by counting `rnn.weight_ih_l{k}`. Every
    layer's shapes are then checked against that config (layer k > 0 reads H inputs)."""

    def shape(key: str) -> tuple[int, ...]:
        v = shapes[key]
        return tuple(v.shape) if hasattr(v, "shape") else tuple(v)

    layers = count_layers(shapes, name)
    try:
        p, i = shape("proj.weight")
        n_classes, h = shape("head.weight")
        gates = shape("rnn.weight_ih_l0")[0] // h
    except (KeyError, ValueError, AttributeError, ZeroDivisionError, IndexError, TypeError):
        raise CheckpointError(
            f"{name}: not an lstmviz state dict (needs proj.weight, rnn.weight_ih_l0, head.weight)"
        ) from None
    cell = {4: "lstm", 3: "gru", 1: "rnn"}.get(gates)
    if cell is None:
        raise CheckpointError(f"{name}: rnn.weight_ih_l0 has {gates}x the hidden size; no known cell has that")
    try:
        config = ModelConfig(
            input_size=int(i),
            embed_size=int(p),
            hidden_size=int(h),
            n_classes=int(n_classes),
            cell=cell,
            num_layers=max(1, layers),
        )
    except ValueError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    return check_config(config, name)


# --- safetensors: one header parser, used to load and to list ------------------------------------


def header_bytes(head: bytes, file_size: int, name: str) -> bytes:
    """The JSON header of a safetensors file from its first bytes; a clear error for anything else."""
    if file_size < 8 or len(head) < 8:
        raise CheckpointError(f"{name}: file is empty or truncated ({file_size} bytes)")
    n = int.from_bytes(head[:8], "little")
    if head[8:9] != b"{" or n < 2:
        raise CheckpointError(f"{name}: not a safetensors checkpoint (no safetensors header)")
    if n > min(MAX_HEADER_BYTES, file_size - 8):
        raise CheckpointError(f"{name}: not a safetensors checkpoint, or truncated (header of {n} bytes)")
    if len(head) < 8 + n:
        raise CheckpointError(f"{name}: file is truncated inside its header")
    return head[8 : 8 + n]


def parse_header(header: bytes, file_size: int, name: str) -> tuple[ModelConfig, dict, int]:
    """Check a safetensors header against the file size and the model config it describes.

    Returns (config, metrics, parameter count); raises CheckpointError naming the problem. Reads
    no tensor: this is what makes listing cheap and what guards loading.
    """
    try:
        obj = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{name}: not a safetensors checkpoint (unreadable header)") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: not a safetensors checkpoint (unreadable header)")
    meta = obj.pop("__metadata__", None) or {}
    shapes: dict[str, tuple[int, ...]] = {}
    end = 0
    for key, entry in obj.items():
        try:
            shape = tuple(int(s) for s in entry["shape"])
            begin, stop = (int(v) for v in entry["data_offsets"])
            width = _DTYPE_BYTES[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{name}: bad entry for tensor '{key}' in the header") from None
        if stop - begin != math.prod(shape) * width or begin < 0 or min(shape, default=0) < 0:
            raise CheckpointError(f"{name}: tensor '{key}' does not match its byte range")
        shapes[key] = shape
        end = max(end, stop)
    if end != file_size - 8 - len(header):
        raise CheckpointError(f"{name}: file is truncated or has extra bytes (header says {end} data bytes)")
    if isinstance(meta, dict) and meta.get("format") == FORMAT:
        count_layers(shapes, name)  # the clearer message for a stack this app does not show
        try:
            raw = json.loads(meta["config"])
            _refuse_too_large(raw, name)
            config = ModelConfig.from_dict(raw)
            metrics = json.loads(meta.get("metrics") or "{}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(f"{name}: bad config in metadata ({exc})") from None
        check_config(config, name)
    else:
        config = infer_config(shapes, name)
        metrics = {}
    _check_shapes(shapes, config, name)
    return config, metrics if isinstance(metrics, dict) else {}, sum(math.prod(s) for s in shapes.values())


def _parse_safetensors(data: bytes, name: str) -> LoadedModel:
    from safetensors.torch import load as st_load

    config, metrics, _ = parse_header(header_bytes(data[: 8 + MAX_HEADER_BYTES], len(data), name), len(data), name)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, OSError, RuntimeError) as exc:
        raise CheckpointError(f"{name}: not a valid safetensors file ({exc})") from None
    model = _build(config, tensors, name)
    return LoadedModel(model, config, metrics, name, hashlib.sha256(data).hexdigest())


# --- PyTorch .pt/.pth: checked before torch.load, then loaded with weights_only ------------------


def pickle_globals(data: bytes, limit: int = 1000) -> list[str]:
    """The `module.name` globals a pickle refers to, read from its opcodes (nothing is executed).

    Follows GLOBAL and STACK_GLOBAL (whose two strings may come from the memo); stops quietly at
    the end of the first pickle or at a malformed opcode.
    """
    found: list[str] = []
    recent: list[object] = []  # values pushed lately: strings for STACK_GLOBAL, None otherwise
    memo: dict[int, object] = {}
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
                recent.append(None)
            elif op.name == "STACK_GLOBAL":
                mod, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                found.append(f"{mod}.{attr}" if isinstance(mod, str) and isinstance(attr, str) else "<unknown global>")
                recent.append(None)
            elif op.name in (
                "SHORT_BINUNICODE",
                "BINUNICODE",
                "BINUNICODE8",
                "UNICODE",
                "SHORT_BINSTRING",
                "BINSTRING",
                "STRING",
            ):
                recent.append(arg if isinstance(arg, str) else str(arg))
            elif op.name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            elif op.name not in ("FRAME", "PROTO", "MARK"):
                recent.append(None)
            if len(found) >= limit:
                break
            recent = recent[-4:]
    except (ValueError, EOFError, IndexError, KeyError, TypeError, OverflowError, UnicodeDecodeError):
        return found  # a malformed pickle: what was found so far
    return found


def _code_globals(names: list[str]) -> list[str]:
    bad = [g for g in names if g not in _TENSOR_GLOBALS and not (g.startswith("torch.") and g.endswith("Storage"))]
    return list(dict.fromkeys(bad))


def _refuse_code(name: str, bad: list[str]) -> CheckpointError:
    return CheckpointError(
        f"{name}: refused: this file holds code references ({', '.join(bad[:5])}), not only tensors. It was not "
        f"loaded and nothing in it ran. {RESAVE_HINT}"
    )


def _check_torch_zip(data: bytes, name: str) -> bytes:
    """Check a torch.save zip archive before torch.load reads it; return its pickle (data.pkl).

    Refuses compressed entries and entries whose sizes add up to more than the file: torch.load
    would allocate every entry's uncompressed size, so these checks bound its memory by the file size.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (broken zip archive: {exc})") from None
    total = 0
    for info in infos:
        off = info.header_offset
        local = data[off : off + 30]
        local_method = int.from_bytes(local[8:10], "little") if len(local) == 30 else -1
        if info.compress_type != zipfile.ZIP_STORED or local_method != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{name}: refused: entry '{info.filename[:80]}' is compressed ({info.file_size:,} bytes unpacked from "
                f"{info.compress_size:,}); torch.save never compresses, so this is not a plain PyTorch checkpoint"
            )
        if info.file_size != info.compress_size:
            raise CheckpointError(
                f"{name}: not a PyTorch checkpoint (entry '{info.filename[:80]}' has inconsistent sizes)"
            )
        total += info.file_size
    if total > len(data):
        raise CheckpointError(f"{name}: refused: its entries claim {total:,} bytes, more than the file's {len(data):,}")
    pkl = [i for i in infos if i.filename.endswith("data.pkl")]
    if len(pkl) != 1:
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (no data.pkl in the archive)")
    try:
        return archive.read(pkl[0])
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (broken zip archive: {exc})") from None


def _parse_torch(data: bytes, name: str) -> LoadedModel:
    import torch

    if data[:4] == b"PK\x03\x04":
        bad = _code_globals(pickle_globals(_check_torch_zip(data, name)))
        if bad:
            raise _refuse_code(name, bad)
    elif data[:1] == b"\x80":
        # A bare pickle, or PyTorch's pre-1.6 format (pickles followed by raw storages, whose sizes
        # torch.load would trust and allocate): never handed to torch.load.
        bad = _code_globals(pickle_globals(data))
        if bad:
            raise _refuse_code(name, bad)
        raise CheckpointError(
            f"{name}: refused: a bare pickle or a PyTorch file older than version 1.6 "
            "(only torch.save's zip format is read). Re-save it with a current PyTorch: "
            "torch.save(model.state_dict(), 'model.pt')."
        )
    else:
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (neither torch.save's zip format nor a pickle)")
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError for anything but tensors, others for junk
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "weights_only" in text or "Unsupported" in text or "global" in text.lower():
            raise CheckpointError(
                f"{name}: refused: this file holds objects other than tensors. It was not loaded "
                f"and nothing in it ran. {RESAVE_HINT}"
            ) from None
        raise CheckpointError(f"{name}: not a readable PyTorch checkpoint ({text[:200]})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise CheckpointError(f"{name}: a .pt upload must hold a state dict (name -> tensor)")
    tensors = {k.removeprefix("module."): v for k, v in obj.items()}
    for k, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{name}: entry '{k}' is not a tensor")
    config = infer_config(tensors, name)
    model = _build(config, tensors, name)
    return LoadedModel(model, config, {}, name, hashlib.sha256(data).hexdigest())


def load_checkpoint_bytes(data: bytes, name: str = "uploaded file") -> LoadedModel:
    """Rebuild a model from the bytes of a `.safetensors` file or a `.pt`/`.pth` state dict."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"{name}: {len(data):,} bytes is too large for a checkpoint (at most {MAX_CHECKPOINT_BYTES // 2**20} MB)"
        )
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


def _read_file(path: Path) -> bytes:
    """A checkpoint file's bytes (at most MAX_CHECKPOINT_BYTES); CheckpointError naming what went wrong."""
    try:
        return read_limited(path, MAX_CHECKPOINT_BYTES)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def load_checkpoint(path: str | os.PathLike | None = None) -> LoadedModel:
    """Load a checkpoint file (the shipped default when path is None)."""
    path = Path(path) if path else DEFAULT_CHECKPOINT
    return load_checkpoint_bytes(_read_file(path), str(path))
