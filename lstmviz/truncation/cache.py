"""The truncation curves on disk: one file per weights and test set, so a restart does not recompute.

`cached_truncation` reads the shipped precomputed curves (models/precomputed), else a cache file
beside the checkpoint or in the user cache folder, and computes (`compute.truncation_curves`) only
the modes missing there; corrupt, stale or odd-shaped files are ignored and rewritten, never an error.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..checkpoint import MODELS_DIR, LoadedModel, atomic_write_bytes, load_checkpoint, weights_hash
from ..data import Digits, Split
from .result import MODES, STEPS, TruncationResult, check_modes

if TYPE_CHECKING:
    from ..model import RowClassifier
    from .compute import Progress

    Source = str | os.PathLike | LoadedModel | RowClassifier | None

CACHE_ENV_VAR = "LSTMVIZ_CACHE_DIR"
CACHE_SUFFIX = ".truncation.npz"
CACHE_VERSION = 1


def split_key(split: Split | Digits) -> str:
    """sha256 of a test set's size, images and labels: results of another data folder are never reused.
    The same for a Split and for the Digits it was made from (numpy arrays: no torch needed)."""
    images = np.ascontiguousarray(np.asarray(split.images), dtype=np.float32)  # (N, 28, 28)
    h = hashlib.sha256(f"{tuple(images.shape)}".encode())
    h.update(images.tobytes())
    h.update(np.ascontiguousarray(np.asarray(split.labels), dtype=np.int64).tobytes())
    return h.hexdigest()


def truncation_curves(model: RowClassifier, split: Split, modes: Sequence[str] = MODES, progress=None):
    """`compute.truncation_curves`, imported when curves are computed (it needs torch; reading them does not)."""
    from .compute import truncation_curves as compute

    return compute(model, split, modes, progress)


def user_cache_dir() -> Path:
    """$LSTMVIZ_CACHE_DIR, else ~/.cache/lstmviz."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lstmviz"


def cache_paths(checkpoint: str | os.PathLike | None, weights: str, data: str) -> list[Path]:
    """Where a result may be stored, in the order tried: beside the checkpoint (not in the shipped
    models folder, which is never written to), then the user cache folder."""
    paths = []
    if checkpoint is not None and Path(checkpoint).is_file():
        ckpt = Path(checkpoint).resolve()
        if ckpt.parent != MODELS_DIR.resolve():
            paths.append(ckpt.with_name(ckpt.name + CACHE_SUFFIX))
    paths.append(user_cache_dir() / f"{weights[:24]}-{data[:12]}{CACHE_SUFFIX}")
    return paths


def _read_cache(path: Path, weights: str, data: str | tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Predictions stored for these weights and this test set, or None (missing, stale, corrupt or
    odd-shaped: never an error, the curves are then computed again)."""
    found = _read_cache_labels(path, weights, (data,) if isinstance(data, str) else data)
    return None if found is None else found[0]


def _read_cache_labels(
    path: Path, weights: str, data: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if int(f["version"]) != CACHE_VERSION or str(f["weights"]) != weights or str(f["data"]) not in data:
                return None
            labels = f["labels"]
            preds = {m: f[f"pred_{m}"] for m in MODES if f"pred_{m}" in f.files}
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile):
        return None
    if labels.ndim != 1 or any(p.shape != (STEPS, labels.shape[0]) for p in preds.values()):
        return None
    return preds, labels


def read_precomputed(
    weights: str, split: Split | Digits, data: str, modes: Sequence[str] = MODES, full_on_sample: bool = True
) -> TruncationResult | None:
    """The shipped curves (models/precomputed/<name>.truncation.npz) of these weights on this test set, with
    every mode asked for; on the bundled sample (full_on_sample) also those of the full MNIST test set."""
    from ..stored import accepted_data, find_precomputed

    accepted = accepted_data(data, split) if full_on_sample else (data,)
    for path in find_precomputed("truncation", weights):
        found = _read_cache_labels(path, weights, accepted)
        if found is not None and all(m in found[0] for m in modes):
            return TruncationResult({m: found[0][m] for m in modes}, found[1])
    return None


def _cache_bytes(weights: str, data: str, result: TruncationResult) -> bytes:
    buf = io.BytesIO()
    arrays = {f"pred_{m}": p for m, p in result.predictions.items()}
    np.savez_compressed(
        buf,
        version=np.int64(CACHE_VERSION),
        weights=np.str_(weights),
        data=np.str_(data),
        labels=result.labels.astype(np.uint8),
        **arrays,
    )
    return buf.getvalue()


def write_truncation_file(path: Path, weights: str, data: str, result: TruncationResult) -> Path:
    """One cache file at `path` (`python -m lstmviz precompute` ships these in models/precomputed)."""
    return atomic_write_bytes(path, _cache_bytes(weights, data, result))


def _write_cache(paths: list[Path], weights: str, data: str, result: TruncationResult) -> Path | None:
    """Store the predictions in the first writable place; None when nowhere is writable."""
    content = _cache_bytes(weights, data, result)
    for path in paths:
        try:
            return atomic_write_bytes(path, content)
        except OSError:
            continue
    return None


def resolve_source(source: Source) -> tuple[RowClassifier, Path | None]:
    """(the model, its checkpoint file or None) for a path, a LoadedModel, a bare model or None (the default)."""
    from ..model import RowClassifier

    if isinstance(source, RowClassifier):
        return source, None
    if isinstance(source, LoadedModel):
        path = Path(source.source) if source.source and Path(source.source).is_file() else None
        return source.model, path
    loaded = load_checkpoint(source)
    return loaded.model, Path(loaded.source)


_resolve = resolve_source  # the name lstmviz.ablation imports


def cached_truncation(
    source: Source,
    split: Split,
    modes: Sequence[str] = MODES,
    progress: Progress | None = None,
    use_cache: bool = True,
    full_on_sample: bool = True,
) -> TruncationResult:
    """truncation_curves for a checkpoint (path, LoadedModel, bare model; None = shipped default),
    read from / written to a cache file keyed by the weights' hash and the test set.

    The shipped precomputed curves (`python -m lstmviz precompute`) are used first when they match; on
    the bundled sample they are the full test set's (full_on_sample; the result then has its 10,000
    labels). Only modes missing from the cache are computed; the file then holds the union.
    """
    modes = check_modes(modes)
    model, path = resolve_source(source)
    weights, data = weights_hash(model), split_key(split)
    if use_cache:
        shipped = read_precomputed(weights, split, data, modes, full_on_sample)
        if shipped is not None:
            if progress:
                progress(1.0, "loaded the precomputed curves")
            return shipped
    paths = cache_paths(path, weights, data)
    stored = _cached_modes(paths, weights, data) if use_cache else {}
    missing = [m for m in modes if m not in stored]
    if missing:
        fresh = truncation_curves(model, split, missing, progress)
        stored.update(fresh.predictions)
        if use_cache:
            _write_cache(paths, weights, data, TruncationResult(stored, fresh.labels))
    elif progress:
        progress(1.0, "loaded from cache")
    return TruncationResult({m: stored[m] for m in modes}, np.asarray(split.labels))


def _cached_modes(paths: list[Path], weights: str, data: str) -> dict[str, np.ndarray]:
    """The predictions per mode in the first cache file that holds any for these weights and data ({} if none):
    the one file cached_truncation completes."""
    for p in paths:
        stored = _read_cache(p, weights, data)
        if stored:
            return stored
    return {}


def stored_truncation(
    weights: str,
    checkpoint: str | os.PathLike | None,
    split: Split | Digits,
    data: str,
    modes: Sequence[str] = MODES,
    full_on_sample: bool = True,
) -> TruncationResult | None:
    """The curves already on disk for these weights (`weights_hash`) and this test set (`split_key`), every mode
    asked for, with nothing computed and no torch: the shipped ones (see `read_precomputed`), else a cache
    file (see `cache_paths`); None when some mode is missing."""
    modes = check_modes(modes)
    shipped = read_precomputed(weights, split, data, modes, full_on_sample)
    if shipped is not None:
        return shipped
    stored = _cached_modes(cache_paths(checkpoint, weights, data), weights, data)
    if not all(m in stored for m in modes):
        return None
    return TruncationResult({m: stored[m] for m in modes}, np.asarray(split.labels))
