"""Row attribution: which rows of one digit mattered for the model's score of a class.

Two methods, both on plain numpy arrays in and out:

- occlusion: how much the target's score drops when one row is set to zero (all 28 occluded
  copies go through the model in one batch);
- integrated gradients (Sundararajan et al., 2017) from the all-zero image: the gradient
  averaged along the straight path from the blank image to the digit, times the pixel values.
  The pixel attributions add up to f(x) - f(blank) (completeness).

A row that is all zero gets exactly zero in both: occluding it changes nothing, and integrated
gradients multiplies every gradient by the pixel's distance from the zero baseline.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .model import RowClassifier

METHODS = ("occlusion", "integrated_gradients")
SCORES = ("probability", "logit")
DEFAULT_IG_STEPS = 128
MAX_IG_STEPS = 1024


@dataclass
class RowAttribution:
    """Per-row scores of one image for one target class.

    rows (T,): positive = the row raised the target's score. pixels (T, F): the pixel map
    (integrated gradients only). value/baseline_value: the score of the image and of its
    all-zero image; `gap` is how far the integrated gradients' sum is from value - baseline_value.
    """

    method: str
    score: str
    target: int
    rows: np.ndarray
    pixels: np.ndarray | None
    value: float
    baseline_value: float
    n_steps: int = 0

    @property
    def total(self) -> float:
        """Sum of the row attributions."""
        return float(self.rows.sum())

    @property
    def gap(self) -> float | None:
        """Integrated gradients' completeness error: sum of attributions - (f(x) - f(blank)); None for occlusion."""
        if self.method != "integrated_gradients":
            return None
        return self.total - (self.value - self.baseline_value)


def _check(model: RowClassifier, image: np.ndarray | torch.Tensor, target: int, score: str) -> torch.Tensor:
    x = torch.from_numpy(np.array(image, dtype=np.float32))  # a copy: the caller's array may be read-only
    f = model.config.input_size
    if x.ndim != 2 or x.shape[1] != f or x.shape[0] < 1:
        raise ValueError(f"expected one image of shape (T, {f}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("the image holds NaN or infinite values")
    n = model.config.n_classes
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= int(target) < n:
        raise ValueError(f"target must be a class from 0 to {n - 1}, not {target!r}")
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, not {score!r}")
    return x


def _score(logits: torch.Tensor, target: int, score: str) -> torch.Tensor:
    """The target's probability or logit: logits (B, 10) -> (B,)."""
    if score == "probability":
        return torch.softmax(logits, -1)[:, target]
    return logits[:, target]


def occluded_copies(image: torch.Tensor) -> torch.Tensor:
    """T copies of an image (T, F), copy t with row t set to zero -> (T, T, F)."""
    t = image.shape[0]
    keep = 1.0 - torch.eye(t, dtype=image.dtype)  # (T, T): row t of copy t is dropped
    return image[None] * keep[:, :, None]


@torch.no_grad()
def occlusion(
    model: RowClassifier, image: np.ndarray | torch.Tensor, target: int, score: str = "probability"
) -> RowAttribution:
    """Drop of the target's score when each row in turn is set to zero (one batched pass)."""
    x = _check(model, image, target, score)  # (T, F)
    model.eval()
    batch = torch.cat([x[None], torch.zeros_like(x)[None], occluded_copies(x)])  # (2 + T, T, F): image, blank, copies
    values = _score(model(batch), int(target), score).double()  # (2 + T,)
    drops = (values[0] - values[2:]).numpy()  # (T,)
    drops[~x.any(dim=1).numpy()] = 0.0  # an all-zero row: its occluded copy is the image itself
    return RowAttribution("occlusion", score, int(target), drops, None, float(values[0]), float(values[1]))


def _ig_pass(m: RowClassifier, x: torch.Tensor, target: int, score: str, n_steps: int) -> np.ndarray:
    """Pixel attributions (T, F) with an `n_steps`-point Gauss-Legendre rule, all points in one batch."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)  # on [-1, 1]
    alphas = torch.from_numpy((nodes + 1) / 2)  # (S,) in (0, 1)
    w = torch.from_numpy(weights / 2)  # (S,): sum to 1
    path = (alphas[:, None, None] * x[None]).requires_grad_(True)  # (S, T, F): blank -> image
    values = _score(m(path), target, score)  # (S,)
    (grads,) = torch.autograd.grad(values.sum(), path)  # (S, T, F): each value depends on its own point only
    mean_grad = (w[:, None, None] * grads).sum(0)  # (T, F)
    return (x * mean_grad).detach().numpy()  # zero wherever the pixel equals the (zero) baseline


def integrated_gradients(
    model: RowClassifier,
    image: np.ndarray | torch.Tensor,
    target: int,
    score: str = "probability",
    n_steps: int = DEFAULT_IG_STEPS,
    tolerance: float | None = 1e-3,
    max_steps: int = MAX_IG_STEPS,
) -> RowAttribution:
    """Integrated gradients from the all-zero image, per pixel (T, F) and summed per row (T,).

    The path integral uses Gauss-Legendre quadrature in float64 on a copy of the model. With a
    `tolerance`, the number of points doubles (up to `max_steps`) until the completeness gap is
    below tolerance * max(1, |f(x) - f(blank)|): a saturating LSTM can make the path sharp.
    """
    x = _check(model, image, target, score).double()  # (T, F)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or not 1 <= n_steps <= max_steps:
        raise ValueError(f"n_steps must be an integer from 1 to {max_steps}, not {n_steps!r}")
    m = copy.deepcopy(model).double().eval()
    target = int(target)
    with torch.no_grad():
        value, blank = (float(v) for v in _score(m(torch.stack([x, torch.zeros_like(x)])), target, score))
    while True:
        pixels = _ig_pass(m, x, target, score, n_steps)
        gap = float(pixels.sum()) - (value - blank)
        if tolerance is None or abs(gap) <= tolerance * max(1.0, abs(value - blank)) or n_steps * 2 > max_steps:
            break
        n_steps *= 2
    return RowAttribution("integrated_gradients", score, target, pixels.sum(1), pixels, value, blank, n_steps)


def attribute_rows(
    model: RowClassifier,
    image: np.ndarray | torch.Tensor,
    target: int,
    method: str = "occlusion",
    score: str = "probability",
    n_steps: int = DEFAULT_IG_STEPS,
) -> RowAttribution:
    """Row attribution by `method` ("occlusion" or "integrated_gradients")."""
    if method == "occlusion":
        return occlusion(model, image, target, score)
    if method == "integrated_gradients":
        return integrated_gradients(model, image, target, score, n_steps)
    raise ValueError(f"method must be one of {METHODS}, not {method!r}")
