"""MNIST held in memory as float tensors (N, 28, 28) in [0, 1].

The folder comes from an explicit argument, else $LSTMVIZ_DATA_DIR, else ./data.
torchvision reads `<dir>/MNIST/raw/*-ubyte` and downloads them when missing and online
(set $LSTMVIZ_DOWNLOAD=0 to never try). When the test set is missing, `load_test_or_sample`
falls back to the bundled sample: the first 2,000 MNIST test digits (lstmviz/assets).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "LSTMVIZ_DATA_DIR"
DOWNLOAD_ENV_VAR = "LSTMVIZ_DOWNLOAD"  # "0": never try to download MNIST
SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "mnist_test_2000.npz"
SAMPLE_SIZE = 2000
# split_key (lstmviz.truncation) of the full MNIST test set (10,000 digits): results computed on it
# (models/precomputed) are shown, and said to be full-test-set figures, when only the sample is here.
MNIST_TEST_KEY = "9a8f9166889e0b0d622452454480e81acee8b9c0c6cd495fb5ba3359c00c3606"
DEFAULT_DIR = "data"
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataUnavailableError(RuntimeError):
    """MNIST is neither on disk nor downloadable; the message says what to do."""


@dataclass(frozen=True)
class Split:
    """One split in memory: images (N, 28, 28) float32 in [0, 1], labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str = "test"  # "test", "train" or "sample" (the bundled first 2,000 test digits)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None) -> Split:
        """The first n items (all of them when n is None)."""
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n], self.source)

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def describe(self) -> str:
        """Which set this is, for messages and JSON: "test (10,000)", "bundled sample (2,000)"."""
        name = "bundled sample" if self.is_sample else self.source
        return f"{name} ({len(self):,})"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Explicit folder, else $LSTMVIZ_DATA_DIR, else ./data."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(DEFAULT_DIR)


def missing_message(root: Path, reason: str = "") -> str:
    """The one clear message for a missing dataset."""
    layout = "\n".join(f"    {root}/MNIST/raw/{name}" for name in RAW_FILES)
    return (
        f"MNIST was not found in '{root}' and could not be downloaded"
        + (f" ({reason})" if reason else "")
        + ".\nPoint lstmviz at a folder that holds it, with --data-dir DIR or the "
        f"{ENV_VAR} environment variable, laid out as:\n{layout}\n"
        "(torchvision downloads these files there on a machine with internet.)"
    )


def download_allowed() -> bool:
    """False when $LSTMVIZ_DOWNLOAD is 0/no/false/off (tests, offline servers)."""
    return os.environ.get(DOWNLOAD_ENV_VAR, "1").strip().lower() not in ("0", "no", "false", "off")


def has_split(train: bool, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether the raw files of a split are on disk (nothing is read or downloaded)."""
    raw = resolve_data_dir(data_dir) / "MNIST" / "raw"
    names = RAW_FILES[:2] if train else RAW_FILES[2:]
    return all((raw / name).is_file() for name in names)


def load_split(train: bool, data_dir: str | os.PathLike | None = None, download: bool = True) -> Split:
    """Load one split into memory; raise DataUnavailableError with a clear message."""
    from torchvision.datasets import MNIST

    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    present = has_split(train, root)  # files on disk: never ask torchvision to download
    if download and not present and not download_allowed():
        raise DataUnavailableError(missing_message(root, f"downloads are off: {DOWNLOAD_ENV_VAR}=0"))
    download = download and not present
    made = [d for d in (raw, *raw.parents) if not d.exists()]  # deepest first
    try:
        ds = MNIST(root=str(root), train=train, download=download)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError offline
        for d in made:  # a failed download leaves no empty folders behind
            try:
                d.rmdir()
            except OSError:
                pass
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        reason = " ".join(dict.fromkeys(lines[:1] + lines[-1:])) if lines else type(exc).__name__
        raise DataUnavailableError(missing_message(root, reason)) from None
    images = ds.data.to(torch.float32).div_(255.0)  # (N, 28, 28) uint8 -> float in [0, 1]
    labels = ds.targets.to(torch.int64)  # (N,)
    return Split(images, labels, "train" if train else "test")


def load_sample() -> Split:
    """The bundled sample: the first 2,000 MNIST test digits with their labels (CC BY-SA 3.0)."""
    with np.load(SAMPLE_PATH, allow_pickle=False) as f:
        images = torch.from_numpy(f["images"].astype(np.float32) / 255.0)  # (2000, 28, 28) in [0, 1]
        labels = torch.from_numpy(f["labels"].astype(np.int64))  # (2000,)
    return Split(images, labels, "sample")


def sample_note(root: Path) -> str:
    """The calm note shown when the sample stands in for the test set."""
    return (
        f"MNIST's test set was not found in '{root}', so the bundled sample is shown: the first {SAMPLE_SIZE:,} "
        f"of its 10,000 test digits. To use the full set, point lstmviz at a folder that holds MNIST: "
        f"`streamlit run app.py -- --data-dir DIR` or the `{ENV_VAR}` environment variable."
    )


def load_test_or_sample(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[Split, str | None]:
    """The test split, else the bundled sample with a note saying so: (split, note or None)."""
    try:
        return load_split(False, data_dir, download), None
    except DataUnavailableError:
        return load_sample(), sample_note(resolve_data_dir(data_dir))


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[Split, Split]:
    """(train, test) splits in memory."""
    return load_split(True, data_dir, download), load_split(False, data_dir, download)
