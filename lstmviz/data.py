"""MNIST held in memory as float tensors (N, 28, 28) in [0, 1].

`Digits` holds a split as numpy arrays and needs no torch (the app's first page reads the test set so);
`Digits.split()` wraps the same memory as the torch `Split` the model reads.

The folder comes from an explicit argument, else $LSTMVIZ_DATA_DIR, else ./data.
`<dir>/MNIST/raw/*-ubyte` are read with numpy (`read_idx`, about 0.1 s; nothing is written beside them);
torchvision is imported only to download them when they are missing and the machine is online
(set $LSTMVIZ_DOWNLOAD=0 to never try). When the test set is missing, `load_test_or_sample`
falls back to the bundled sample: the first 2,000 MNIST test digits (lstmviz/assets).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

ENV_VAR = "LSTMVIZ_DATA_DIR"
DOWNLOAD_ENV_VAR = "LSTMVIZ_DOWNLOAD"  # "0": never try to download MNIST
SAMPLE_PATH = Path(__file__).resolve().parent / "assets" / "mnist_test_2000.npz"
SAMPLE_SIZE = 2000
# split_key (lstmviz.truncation) of the full MNIST test set (10,000 digits): results computed on it
# (models/precomputed) are shown, and said to be full-test-set figures, when only the sample is here.
MNIST_TEST_KEY = "9a8f9166889e0b0d622452454480e81acee8b9c0c6cd495fb5ba3359c00c3606"
DEFAULT_DIR = "data"
MIRRORS = (("ossci-datasets.s3.amazonaws.com", 443), ("yann.lecun.com", 80))  # torchvision's MNIST mirrors
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataUnavailableError(RuntimeError):
    """MNIST is neither on disk nor downloadable; the message says what to do."""


class _Named:
    """What a split says about itself, whatever holds its arrays."""

    labels: object
    source: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def describe(self) -> str:
        """Which set this is, for messages and JSON: "test (10,000)", "bundled sample (2,000)"."""
        name = "bundled sample" if self.is_sample else self.source
        return f"{name} ({len(self):,})"


@dataclass(frozen=True)
class Split(_Named):
    """One split in memory: images (N, 28, 28) float32 in [0, 1], labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str = "test"  # "test", "train" or "sample" (the bundled first 2,000 test digits)

    def subset(self, n: int | None) -> Split:
        """The first n items (all of them when n is None)."""
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n], self.source)


@dataclass(frozen=True)
class Digits(_Named):
    """One split as numpy arrays, no torch: images (N, 28, 28) float32 in [0, 1], labels (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    source: str = "test"

    def split(self) -> Split:
        """The same digits as a torch Split (the same memory: nothing is copied)."""
        import torch

        return Split(torch.from_numpy(self.images), torch.from_numpy(self.labels), self.source)


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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An idx file (MNIST's raw format: a big-endian header, then unsigned bytes) as a uint8 array of the
    shape its header gives (read-only); ValueError when the file is not one or its size does not match."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[0] or data[1] or data[2] != 0x08:
        raise ValueError("not an idx file of unsigned bytes")
    ndim = data[3]
    start = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) < start or len(data) != start + int(np.prod(dims, dtype=np.int64)):
        raise ValueError(f"{len(data):,} bytes do not fit the header's shape {dims}")
    return np.frombuffer(data, np.uint8, offset=start).reshape(dims)


def read_arrays(train: bool, data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The raw files of one split with numpy: images (N, 28, 28) uint8, labels (N,) uint8.
    Raises DataUnavailableError when they are missing or not MNIST's layout."""
    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    names = RAW_FILES[:2] if train else RAW_FILES[2:]
    try:
        images, labels = (read_idx(raw / name) for name in names)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ValueError(f"images {images.shape} and labels {labels.shape} are not MNIST's")
        if labels.size and int(labels.max()) > 9:
            raise ValueError("labels outside 0-9")
    except (OSError, ValueError) as exc:
        raise DataUnavailableError(missing_message(root, f"{raw}: {exc}")) from None
    return images, labels


def offline_reason(timeout: float = 2.0) -> str | None:
    """None when one of MNIST's mirrors accepts a connection (or a proxy is set), else why not: checked before
    torchvision is imported, so an offline machine falls back in milliseconds instead of seconds."""
    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy")):
        return None  # urllib goes through the proxy; a direct connection says nothing
    reason = "offline"
    for host, port in MIRRORS:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            reason = f"{host}: {exc.strerror or exc}"
    return reason


def _download(train: bool, root: Path) -> None:
    """torchvision's MNIST download into root/MNIST/raw; DataUnavailableError (and no new empty folders) on failure."""
    reason = offline_reason()
    if reason is not None:
        raise DataUnavailableError(missing_message(root, f"no connection to MNIST's mirrors: {reason}")) from None
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    made = [d for d in (raw, *raw.parents) if not d.exists()]  # deepest first
    try:
        MNIST(root=str(root), train=train, download=True)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError offline
        for d in made:  # a failed download leaves no empty folders behind
            try:
                d.rmdir()
            except OSError:
                pass
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        reason = " ".join(dict.fromkeys(lines[:1] + lines[-1:])) if lines else type(exc).__name__
        raise DataUnavailableError(missing_message(root, reason)) from None


def to_digits(images: np.ndarray, labels: np.ndarray, source: str) -> Digits:
    """uint8 arrays -> Digits: images (N, 28, 28) float32 in [0, 1] (x / 255), labels (N,) int64."""
    pixels = np.asarray(images, dtype=np.uint8).astype(np.float32) / np.float32(255.0)  # a new array
    return Digits(pixels, np.asarray(labels).astype(np.int64), source)


def to_split(images: np.ndarray, labels: np.ndarray, source: str) -> Split:
    """uint8 arrays -> a Split: images (N, 28, 28) float32 in [0, 1] (x / 255), labels (N,) int64."""
    return to_digits(images, labels, source).split()


def load_digits(train: bool, data_dir: str | os.PathLike | None = None, download: bool = True) -> Digits:
    """Load one split into memory as numpy arrays; raise DataUnavailableError with a clear message."""
    root = resolve_data_dir(data_dir)
    if not has_split(train, root):  # only then is torchvision asked to download
        if not download:
            raise DataUnavailableError(missing_message(root, "the files are missing")) from None
        if not download_allowed():
            raise DataUnavailableError(missing_message(root, f"downloads are off: {DOWNLOAD_ENV_VAR}=0")) from None
        _download(train, root)
    images, labels = read_arrays(train, root)
    return to_digits(images, labels, "train" if train else "test")


def load_split(train: bool, data_dir: str | os.PathLike | None = None, download: bool = True) -> Split:
    """Load one split into memory; raise DataUnavailableError with a clear message."""
    return load_digits(train, data_dir, download).split()


def sample_digits() -> Digits:
    """The bundled sample as numpy arrays: the first 2,000 MNIST test digits with their labels (CC BY-SA 3.0)."""
    with np.load(SAMPLE_PATH, allow_pickle=False) as f:
        return to_digits(f["images"], f["labels"], "sample")  # (2000, 28, 28) in [0, 1], (2000,)


def load_sample() -> Split:
    """The bundled sample: the first 2,000 MNIST test digits with their labels (CC BY-SA 3.0)."""
    return sample_digits().split()


def sample_note(root: Path) -> str:
    """The calm note shown when the sample stands in for the test set."""
    return (
        f"MNIST's test set was not found in '{root}', so the bundled sample is shown: the first {SAMPLE_SIZE:,} "
        f"of its 10,000 test digits. To use the full set, point lstmviz at a folder that holds MNIST: "
        f"`streamlit run app.py -- --data-dir DIR` or the `{ENV_VAR}` environment variable."
    )


def test_digits_or_sample(
    data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[Digits, str | None]:
    """The test split as numpy arrays, else the bundled sample with a note saying so: (digits, note or None)."""
    try:
        return load_digits(False, data_dir, download), None
    except DataUnavailableError:
        return sample_digits(), sample_note(resolve_data_dir(data_dir))


def load_test_or_sample(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[Split, str | None]:
    """The test split, else the bundled sample with a note saying so: (split, note or None)."""
    digits, note = test_digits_or_sample(data_dir, download)
    return digits.split(), note


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> tuple[Split, Split]:
    """(train, test) splits in memory."""
    return load_split(True, data_dir, download), load_split(False, data_dir, download)
