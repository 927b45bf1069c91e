"""The models the app can use: shipped (models/), trained and uploaded (the user models folder).

Listing reads only each safetensors header (a few KB), never the weights; a file that cannot be
read is listed as invalid with the reason. New checkpoints get a new, unique file name: nothing is
ever overwritten, and the shipped folder is never written.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from .checkpoint import (
    DEFAULT_CHECKPOINT,
    FORMAT,
    MODELS_DIR,
    CheckpointError,
    atomic_write_bytes,
    checkpoint_bytes,
    expected_shapes,
    infer_config,
    load_checkpoint_bytes,
)
from .data import Split
from .evaluate import accuracy
from .model import ModelConfig, RowClassifier

MODELS_ENV_VAR = "LSTMVIZ_MODELS_DIR"
SUFFIX = ".safetensors"
KINDS = ("shipped", "trained", "uploaded")
MAX_HEADER_BYTES = 16 * 1024 * 1024
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "U16": 2, "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def user_models_dir() -> Path:
    """Where trained and uploaded models go: $LSTMVIZ_MODELS_DIR, else ~/.lstmviz/models."""
    env = os.environ.get(MODELS_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".lstmviz" / "models"


def safe_stem(name: str, default: str = "model") -> str:
    """A file-name stem from any user text: last path part, no extension, [A-Za-z0-9._-] only."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = re.sub(r"\.(safetensors|pt|pth)$", "", base, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_")[:60].strip(".-_")
    return stem or default


def write_new_file(folder: str | os.PathLike, stem: str, suffix: str, data: bytes) -> Path:
    """Write `data` to folder/stem{suffix}, or stem-2{suffix}, stem-3… if taken; never overwrites.

    The bytes go to a hidden, fsynced file first (atomic_write_bytes), which is then hard-linked to
    the free name: a link is atomic and fails when the name exists, so readers never see a half file.
    """
    folder = Path(folder)
    if folder.resolve() == MODELS_DIR.resolve():
        raise CheckpointError(f"{folder}: refusing to write into the shipped models folder; set {MODELS_ENV_VAR}")
    stem = safe_stem(stem)
    tmp = atomic_write_bytes(folder / f".{stem}.{uuid.uuid4().hex}.part", data)
    try:
        for i in range(1, 10_000):
            path = folder / (f"{stem}{suffix}" if i == 1 else f"{stem}-{i}{suffix}")
            try:
                os.link(tmp, path)
            except FileExistsError:
                continue
            except OSError:  # a filesystem without hard links: reserve the name, then rename onto it
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    continue
                os.replace(tmp, path)
            return path
        raise CheckpointError(f"{folder}: no free file name for {stem}{suffix}")
    finally:
        tmp.unlink(missing_ok=True)


def save_new_checkpoint(folder: str | os.PathLike, stem: str, model: RowClassifier, metrics: dict) -> Path:
    """Save a model as a new safetensors file in `folder` (see write_new_file)."""
    return write_new_file(folder, stem, SUFFIX, checkpoint_bytes(model, metrics))


def parse_header(header: bytes, file_size: int, name: str) -> tuple[ModelConfig, dict, int]:
    """Check a safetensors header against the file size and the model config it describes.

    Returns (config, metrics, parameter count); raises CheckpointError naming the problem.
    """
    try:
        obj = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{name}: unreadable safetensors header") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: unreadable safetensors header")
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
        if stop - begin != math.prod(shape) * width or begin < 0:
            raise CheckpointError(f"{name}: tensor '{key}' does not match its byte range")
        shapes[key] = shape
        end = max(end, stop)
    if end != file_size - 8 - len(header):
        raise CheckpointError(f"{name}: file is truncated or has extra bytes (header says {end} data bytes)")
    if isinstance(meta, dict) and meta.get("format") == FORMAT:
        try:
            config = ModelConfig.from_dict(json.loads(meta["config"]))
            metrics = json.loads(meta.get("metrics") or "{}")
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{name}: bad config in metadata ({exc})") from None
    else:
        config = infer_config({k: torch.empty(s, device="meta") for k, s in shapes.items()}, name)
        metrics = {}
    expected = expected_shapes(config)
    if shapes != expected:
        wrong = sorted(k for k in set(shapes) | set(expected) if shapes.get(k) != expected.get(k))
        raise CheckpointError(f"{name}: tensors {wrong[:4]} do not match an lstmviz {config.cell} model of {config}")
    return config, metrics if isinstance(metrics, dict) else {}, sum(math.prod(s) for s in shapes.values())


def _header_bytes(head: bytes, file_size: int, name: str) -> bytes:
    if file_size < 8 or len(head) < 8:
        raise CheckpointError(f"{name}: file is empty or truncated ({file_size} bytes)")
    n = int.from_bytes(head[:8], "little")
    if n > min(MAX_HEADER_BYTES, file_size - 8):
        raise CheckpointError(f"{name}: not a safetensors file, or truncated (header of {n} bytes)")
    return head[8 : 8 + n]


@dataclass(frozen=True)
class ModelInfo:
    """What the selector shows about one checkpoint file (read from its header only)."""

    path: Path
    name: str
    kind: str
    file_size: int
    valid: bool
    error: str | None = None
    accuracy: float | None = None
    recipe: str | None = None
    cell: str | None = None
    hidden_size: int | None = None
    n_params: int | None = None
    date: str | None = None
    metrics: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def accuracy_text(self) -> str:
        return f"{self.accuracy:.2%}" if self.accuracy is not None else "accuracy not measured"

    @property
    def size_text(self) -> str:
        return f"{self.file_size / 1024:,.0f} KB" if self.file_size < 1024**2 else f"{self.file_size / 1024**2:,.1f} MB"

    def label(self) -> str:
        """One line for a select box: name, kind, accuracy, recipe, size."""
        parts = [f"{self.name} ({self.kind})", self.accuracy_text if self.accuracy is not None else "–"]
        if self.recipe:
            parts.append(self.recipe)
        parts.append(self.size_text)
        return " · ".join(parts)

    def caption(self) -> str:
        """A longer description: cell, hidden size, parameters, recipe, accuracy, size, date."""
        if not self.valid:
            return f"{self.name}: invalid ({self.error})"
        parts = [self.kind, f"{(self.cell or '?').upper()}, hidden {self.hidden_size}", f"{self.n_params:,} parameters",
                 f"recipe {self.recipe or 'unknown'}", self.accuracy_text, self.size_text]
        if self.date:
            parts.append(self.date[:16].replace("T", " "))
        return " · ".join(parts)


def _kind(metrics: dict, shipped: bool) -> str:
    if shipped:
        return "shipped"
    source = metrics.get("source")
    if source in KINDS[1:]:
        return source
    return "trained" if isinstance(metrics.get("recipe"), dict) else "uploaded"


@lru_cache(maxsize=256)
def _read_info(path: str, mtime_ns: int, size: int, shipped: bool) -> ModelInfo:
    p = Path(path)
    try:
        with p.open("rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            head += f.read(min(n, MAX_HEADER_BYTES))
        config, metrics, n_params = parse_header(_header_bytes(head, size, p.name), size, p.name)
    except (CheckpointError, OSError) as exc:
        return ModelInfo(p, p.stem, "shipped" if shipped else "uploaded", size, False, str(exc))
    acc = metrics.get("test_accuracy")
    recipe = metrics.get("recipe")
    preset = recipe.get("preset") if isinstance(recipe, dict) else None
    date = metrics.get("date")
    return ModelInfo(
        path=p,
        name=p.stem,
        kind=_kind(metrics, shipped),
        file_size=size,
        valid=True,
        accuracy=float(acc) if isinstance(acc, (int, float)) and 0.0 <= acc <= 1.0 else None,
        recipe=str(preset)[:40] if isinstance(preset, str) else None,
        cell=config.cell,
        hidden_size=config.hidden_size,
        n_params=n_params,
        date=str(date)[:32] if isinstance(date, str) else None,
        metrics=metrics,
    )


def read_info(path: str | os.PathLike, shipped: bool | None = None) -> ModelInfo:
    """Header-only description of one checkpoint file (cached while the file is unchanged)."""
    p = Path(path)
    if shipped is None:
        shipped = p.resolve().parent == MODELS_DIR.resolve()
    try:
        st = p.stat()
    except OSError as exc:
        return ModelInfo(p, p.stem, "shipped" if shipped else "uploaded", 0, False, f"cannot read: {exc.strerror}")
    return _read_info(str(p), st.st_mtime_ns, st.st_size, shipped)


def _files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.glob(f"*{SUFFIX}") if not p.name.startswith(".") and p.is_file()]
    except OSError:
        return []


def list_models(shipped_dir: str | os.PathLike | None = None, user_dir: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Shipped models (the default first), then the user folder's, newest first."""
    shipped_dir = Path(shipped_dir) if shipped_dir else MODELS_DIR
    user_dir = Path(user_dir) if user_dir else user_models_dir()
    shipped = sorted(_files(shipped_dir), key=lambda p: (p.resolve() != DEFAULT_CHECKPOINT.resolve(), p.name))
    infos = [read_info(p, shipped=True) for p in shipped]
    if user_dir.resolve() != shipped_dir.resolve():
        user = [read_info(p, shipped=False) for p in _files(user_dir)]
        infos += sorted(user, key=lambda m: (m.date or "", m.path.name), reverse=True)
    return infos


def import_upload(name: str, data: bytes, test_split: Split | None = None,
                  user_dir: str | os.PathLike | None = None) -> Path:
    """Validate an uploaded checkpoint and store it, re-saved as safetensors, in the user folder.

    Accepts a safetensors file made by this app or a `.pt`/`.pth` state dict (read with
    `torch.load(weights_only=True)`, which runs no code). With `test_split`, the accuracy is
    measured; otherwise the file's own claim (if any) is kept. Raises CheckpointError.
    """
    stem = safe_stem(name, default="upload")
    ext = os.path.splitext(re.split(r"[\\/]", str(name))[-1])[1].lower()
    shown = stem + (ext if ext in (".pt", ".pth", SUFFIX) else "")
    loaded = load_checkpoint_bytes(data, shown)
    metrics = dict(loaded.metrics)
    if test_split is not None:
        metrics.update(test_accuracy=accuracy(loaded.model, test_split), n_test=len(test_split),
                       accuracy_source="measured by lstmviz on upload")
    metrics.update(source="uploaded", uploaded_as=shown, date=_dt.datetime.now().isoformat(timespec="seconds"))
    return save_new_checkpoint(Path(user_dir) if user_dir else user_models_dir(), stem, loaded.model, metrics)
