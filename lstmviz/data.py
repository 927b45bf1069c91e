"""MNIST held in memory as float tensors (N, 28, 28) in [0, 1].

The folder comes from an explicit argument, else $LSTMVIZ_DATA_DIR, else ./data.
torchvision reads `<dir>/MNIST/raw/*-ubyte` and downloads them when missing and online.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

ENV_VAR = "LSTMVIZ_DATA_DIR"
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

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None) -> "Split":
        """The first n items (all of them when n is None)."""
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n])


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


def load_split(train: bool, data_dir: str | os.PathLike | None = None, download: bool = True) -> Split:
    """Load one split into memory; raise DataUnavailableError with a clear message."""
    from torchvision.datasets import MNIST

    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
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
    return Split(images, labels)


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[Split, Split]:
    """(train, test) splits in memory."""
    return load_split(True, data_dir, download), load_split(False, data_dir, download)
