"""Predict digits in image files: `python -m lstmviz predict PATH...`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .evaluate import predict_proba
from .model import RowClassifier
from .preprocess import ImageError, file_to_mnist

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")  # files picked up inside folders


def expand_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders recursively (image extensions only, sorted). Missing paths are yielded as-is."""
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
        else:
            yield p


def predict_paths(model: RowClassifier, paths: Iterable[str | Path]) -> Iterator[dict]:
    """One dict per image: {"path", "label", "probabilities"} or {"path", "error"}; never stops on a bad file."""
    for path in expand_paths(paths):
        if not path.exists():
            yield {"path": str(path), "error": "no such file or folder"}
            continue
        try:
            image = file_to_mnist(path)  # (28, 28)
        except ImageError as exc:
            yield {"path": str(path), "error": str(exc)}
            continue
        probs = predict_proba(model, image[None])[0]  # (10,)
        yield {"path": str(path), "label": int(probs.argmax()), "probabilities": [round(float(p), 6) for p in probs]}
