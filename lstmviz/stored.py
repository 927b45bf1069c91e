"""The result files shipped beside the checkpoints (models/precomputed): where they are, whose weights and data
they hold, how they are read and written. Plain numpy, no torch: a page reads them before any model is loaded.
What the files hold and how they are computed: `lstmviz.precompute`.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from .checkpoint import MODELS_DIR, atomic_write_bytes
from .data import MNIST_TEST_KEY, Digits, Split

PRECOMPUTED_DIR = MODELS_DIR / "precomputed"
VERSION = 1


def precomputed_path(stem: str, file: str, folder: str | os.PathLike | None = None, tag: str = "") -> Path:
    """<folder>/<stem><tag>.<file>.npz; tag ".l{k}" for a lower layer of a stack (see layer_files)."""
    return Path(folder or PRECOMPUTED_DIR) / f"{stem}{tag}.{file}.npz"


def accepted_data(data: str, split: Split | Digits) -> tuple[str, ...]:
    """Data hashes whose results fit this split: its own; for the sample, also the full test set's."""
    return (data, MNIST_TEST_KEY) if split.is_sample else (data,)


def read_npz(path: Path, weights: str, data: tuple[str, ...]) -> tuple[dict[str, np.ndarray], str] | None:
    """The arrays of a precomputed file and the data hash it was computed on, if it is for these weights and
    one of these data hashes; None when missing, stale or unreadable (never an error)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if int(f["version"]) != VERSION or str(f["weights"]) != weights or str(f["data"]) not in data:
                return None
            return {k: f[k] for k in f.files}, str(f["data"])
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile):
        return None


_INDEX: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> weights hash stored in it


def _weights_in(path: Path) -> str | None:
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in _INDEX:
            with np.load(path, allow_pickle=False) as f:
                _INDEX[key] = str(f["weights"])
        return _INDEX[key]
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile):
        return None


def find_precomputed(file: str, weights: str, folder: str | os.PathLike | None = None) -> list[Path]:
    """Files `<name>.<file>.npz` in the precomputed folder that hold results of these weights."""
    folder = Path(folder or PRECOMPUTED_DIR)
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob(f"*.{file}.npz")) if _weights_in(p) == weights]


def write_npz(path: Path, weights: str, data: str, arrays: dict[str, np.ndarray]) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, version=np.int64(VERSION), weights=np.str_(weights), data=np.str_(data), **arrays)
    return atomic_write_bytes(path, buf.getvalue())
