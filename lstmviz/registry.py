"""The models the app can use: shipped (models/), trained and uploaded (the user models folder).

Listing reads only each safetensors header (a few KB), never the weights; a file that cannot be
read is listed as invalid with the reason. New checkpoints get a new, unique file name: nothing is
ever overwritten, and the shipped folder is never written.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .background import BackgroundJob
from .checkpoint import (
    DEFAULT_CHECKPOINT,
    MAX_HEADER_BYTES,
    MODELS_DIR,
    CheckpointError,
    LoadedModel,
    atomic_write_bytes,
    checkpoint_bytes,
    header_bytes,
    load_checkpoint_bytes,
    parse_header,
)
from .data import Split

if TYPE_CHECKING:
    from .model import RowClassifier

MODELS_ENV_VAR = "LSTMVIZ_MODELS_DIR"
MAX_MODELS_ENV_VAR = "LSTMVIZ_MAX_USER_MODELS"  # most checkpoints the user folder may hold (default 200)
MAX_MODELS_MB_ENV_VAR = "LSTMVIZ_MAX_USER_MODELS_MB"  # most megabytes it may hold (default 2000)
SUFFIX = ".safetensors"
KINDS = ("shipped", "trained", "uploaded")
PARTIAL_MAX_AGE = 60.0  # seconds: a hidden partial file older than this is left over from an interrupted save
_PARTIAL = re.compile(r"^\..+\.tmp$")


class FolderError(CheckpointError):
    """The user models folder cannot take a new file (full disk, read-only, over the cap)."""


def _env_int(var: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(var, default)))
    except ValueError:
        return default


def folder_limits() -> tuple[int, int]:
    """(most files, most bytes) the user models folder may hold; server settings via env vars."""
    return _env_int(MAX_MODELS_ENV_VAR, 200), _env_int(MAX_MODELS_MB_ENV_VAR, 2000) * 2**20


def check_room(folder: str | os.PathLike, new_bytes: int) -> None:
    """FolderError if one more file of `new_bytes` would pass the folder's cap (nothing is deleted)."""
    folder = Path(folder)
    max_files, max_bytes = folder_limits()
    files = _files(folder)
    used = 0
    for p in files:
        try:
            used += p.stat().st_size
        except OSError:
            pass
    if len(files) + 1 > max_files or used + new_bytes > max_bytes:
        raise FolderError(
            f"the models folder is full: it holds {len(files)} models ({used / 2**20:,.1f} MB) and this server "
            f"allows {max_files} models / {max_bytes / 2**20:,.0f} MB ({MAX_MODELS_ENV_VAR}, {MAX_MODELS_MB_ENV_VAR}). "
            "Nothing was saved; ask whoever runs the server to delete old models from "
            f"{folder} or raise the limit."
        )


def folder_error(folder: str | os.PathLike, exc: OSError) -> FolderError:
    """A clear message for an OSError while saving into the models folder."""
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the folder is on a read-only file system",
        errno.EACCES: "the server may not write there (permission denied)",
        errno.EPERM: "the server may not write there (permission denied)",
        errno.ENOTDIR: "a part of its path is a file, not a folder",
    }
    reason = reasons.get(exc.errno, exc.strerror or type(exc).__name__)
    return FolderError(f"cannot save into the models folder {folder}: {reason}. Nothing was saved.")


def clean_partial_files(folder: str | os.PathLike | None = None, max_age: float = PARTIAL_MAX_AGE) -> list[Path]:
    """Delete hidden partial files (`.name.*.tmp`) left by interrupted saves; returns what was removed.

    Only files older than `max_age` seconds are removed, so a save in progress is never touched.
    Checkpoints themselves are never deleted.
    """
    folder = Path(folder) if folder else user_models_dir()
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        try:
            if _PARTIAL.match(p.name) and p.is_file() and now - p.stat().st_mtime > max_age:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed


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
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_room(folder, len(data))
        tmp = atomic_write_bytes(folder / f".{stem}.{uuid.uuid4().hex}.part", data)
    except OSError as exc:
        raise folder_error(folder, exc) from None
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
    except OSError as exc:
        raise folder_error(folder, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def save_new_checkpoint(folder: str | os.PathLike, stem: str, model: RowClassifier, metrics: dict) -> Path:
    """Save a model as a new safetensors file in `folder` (see write_new_file)."""
    return write_new_file(folder, stem, SUFFIX, checkpoint_bytes(model, metrics))


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
    num_layers: int = 1
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
        """A longer description: cell, layers, hidden size, parameters, recipe, accuracy, size, date."""
        if not self.valid:
            return f"{self.name}: invalid ({self.error})"
        parts = [
            self.kind,
            f"{self.num_layers} layers of " * (self.num_layers > 1)
            + f"{(self.cell or '?').upper()}, hidden {self.hidden_size}",
            f"{self.n_params:,} parameters",
            f"recipe {self.recipe or 'unknown'}",
            self.accuracy_text,
            self.size_text,
        ]
        if self.date:
            parts.append(self.date[:16].replace("T", " "))
        return " · ".join(parts)


def plain_text(value: object, limit: int = 60) -> str | None:
    """Text from a file's metadata made safe to show: a string, no control characters, at most `limit` chars."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", value).strip()
    return (text[: limit - 1] + "…") if len(text) > limit else text


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
        config, metrics, n_params = parse_header(header_bytes(head, size, p.name), size, p.name)
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
        recipe=plain_text(preset, 40),
        cell=config.cell,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        n_params=n_params,
        date=plain_text(date, 32),
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


def list_models(
    shipped_dir: str | os.PathLike | None = None, user_dir: str | os.PathLike | None = None
) -> list[ModelInfo]:
    """Shipped models (the default first), then the user folder's, newest first."""
    shipped_dir = Path(shipped_dir) if shipped_dir else MODELS_DIR
    user_dir = Path(user_dir) if user_dir else user_models_dir()
    shipped = sorted(_files(shipped_dir), key=lambda p: (p.resolve() != DEFAULT_CHECKPOINT.resolve(), p.name))
    infos = [read_info(p, shipped=True) for p in shipped]
    if user_dir.resolve() != shipped_dir.resolve():
        user = [read_info(p, shipped=False) for p in _files(user_dir)]
        infos += sorted(user, key=lambda m: (m.date or "", m.path.name), reverse=True)
    return infos


def _read_upload(name: str, data: bytes) -> tuple[str, str, LoadedModel]:
    """(file stem, name as shown, the validated model) of an uploaded file; raises CheckpointError."""
    stem = safe_stem(name, default="upload")
    ext = os.path.splitext(re.split(r"[\\/]", str(name))[-1])[1].lower()
    shown = stem + (ext if ext in (".pt", ".pth", SUFFIX) else "")
    return stem, shown, load_checkpoint_bytes(data, shown)


def _save_upload(
    stem: str, shown: str, loaded: LoadedModel, user_dir: str | os.PathLike | None, measured: dict | None
) -> Path:
    metrics = dict(loaded.metrics)
    metrics.update(measured or {})
    metrics.update(source="uploaded", uploaded_as=shown, date=_dt.datetime.now().isoformat(timespec="seconds"))
    return save_new_checkpoint(Path(user_dir) if user_dir else user_models_dir(), stem, loaded.model, metrics)


def score(model: RowClassifier, split: Split, progress=None, chunk: int = 1000) -> dict:
    """The metrics an upload gets: its accuracy on `split`, measured `chunk` images at a time.

    `progress(done, total)` is called after each chunk (from the calling thread)."""
    from .evaluate import predict_logits  # torch: listing models needs none

    correct, n = 0, len(split)
    for start in range(0, n, chunk):
        pred = predict_logits(model, split.images[start : start + chunk]).argmax(-1)
        correct += int((pred == split.labels[start : start + chunk]).sum())
        if progress is not None:
            progress(min(n, start + chunk), n)
    return {
        "test_accuracy": correct / n if n else float("nan"),
        "n_test": n,
        "accuracy_source": "measured by lstmviz on upload",
    }


def import_upload(
    name: str, data: bytes, test_split: Split | None = None, user_dir: str | os.PathLike | None = None
) -> Path:
    """Validate an uploaded checkpoint and store it, re-saved as safetensors, in the user folder.

    Accepts a safetensors file made by this app or a `.pt`/`.pth` state dict (read with
    `torch.load(weights_only=True)`, which runs no code). With `test_split`, the accuracy is
    measured (in this thread: the app uses UploadJob); otherwise the file's own claim (if any) is
    kept. Raises CheckpointError.
    """
    stem, shown, loaded = _read_upload(name, data)
    measured = score(loaded.model, test_split) if test_split is not None else None
    return _save_upload(stem, shown, loaded, user_dir, measured)


class UploadJob(BackgroundJob[Path]):
    """An upload checked at once, then scored on the test set and saved in a daemon thread (no streamlit).

    The constructor validates the file (CheckpointError at once, in the caller's thread); scoring a
    large model on 10,000 digits takes seconds to a minute of CPU, so it happens in the thread, one
    upload at a time per server, while the uploader's session stays responsive. `status()`:
    (fraction, message, saved path or None, error or None).
    """

    _one_at_a_time = threading.Lock()

    def __init__(
        self, name: str, data: bytes, test_split: Split | None, user_dir: str | os.PathLike | None = None
    ) -> None:
        stem, shown, loaded = _read_upload(name, data)
        check_room(Path(user_dir) if user_dir else user_models_dir(), len(data))  # a full folder says so now

        def work(progress) -> Path:
            with UploadJob._one_at_a_time:
                measured = None
                if test_split is not None:
                    progress(0.0, f"0 of {len(test_split):,} test digits")
                    measured = score(
                        loaded.model, test_split, lambda done, n: progress(done / n, f"{done:,} of {n:,} test digits")
                    )
                return _save_upload(stem, shown, loaded, user_dir, measured)

        super().__init__(work, "lstmviz-upload", message="waiting for another upload to be scored")

    def error_text(self, exc: Exception) -> str:
        if isinstance(exc, CheckpointError):
            return str(exc)
        return f"it could not be scored ({type(exc).__name__})."
