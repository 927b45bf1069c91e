"""Accuracy and predictions on in-memory images."""

from __future__ import annotations

import numpy as np
import torch

from .data import Split
from .model import RowClassifier


@torch.no_grad()
def predict_logits(model: RowClassifier, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Last-step logits of images (N, 28, 28) -> (N, 10), in batches."""
    model.eval()
    images = torch.as_tensor(images, dtype=torch.float32)
    outs = [model(images[i : i + batch_size]) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, model.config.n_classes)


def predict_proba(model: RowClassifier, images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Class probabilities of images (N, 28, 28) -> (N, 10) numpy."""
    return torch.softmax(predict_logits(model, torch.as_tensor(np.asarray(images, np.float32))), -1).numpy()


def accuracy(model: RowClassifier, split: Split, batch_size: int = 2000) -> float:
    """Share of `split` whose last-step prediction equals the label."""
    pred = predict_logits(model, split.images, batch_size).argmax(-1)
    return float((pred == split.labels).float().mean()) if len(split) else float("nan")
