"""Training curves: loss per batch and test accuracy, from plain lists."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go


def binned(values: Sequence[float], max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(1-based step at each bin's end, mean of the bin): at most `max_points` points."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    width = max(1, -(-n // max_points))  # ceil(n / max_points)
    ends = np.minimum(np.arange(width, n + width, width), n)  # (K,)
    sums = np.add.reduceat(v, np.arange(0, n, width))  # (K,)
    counts = np.diff(np.concatenate([[0], ends]))
    return ends.astype(np.float64), sums / counts


def smoothed(values: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Exponential moving average, bias-corrected so the first points are not pulled to 0."""
    v = np.asarray(values, dtype=np.float64)
    out = np.empty_like(v)
    acc = 0.0
    for i, x in enumerate(v):
        acc = (1 - alpha) * acc + alpha * x
        out[i] = acc / (1 - (1 - alpha) ** (i + 1))
    return out


def loss_figure(losses: Sequence[float], steps_per_epoch: int = 1, max_points: int = 300,
                height: int = 300) -> go.Figure:
    """Training loss against epochs: batch losses (binned to `max_points`) and a smoothed line."""
    per_epoch = max(1, steps_per_epoch)
    steps, means = binned(losses, max_points)
    _, smooth = binned(smoothed(losses), max_points)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=steps / per_epoch, y=means, mode="lines", name="batch loss",
                             line=dict(color="rgba(99,110,250,0.35)", width=1),
                             hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=steps / per_epoch, y=smooth, mode="lines", name="smoothed",
                             line=dict(color="rgb(99,110,250)", width=2.5),
                             hovertemplate="epoch %{x:.2f}: %{y:.3f}<extra>smoothed</extra>"))
    fig.update_layout(title="Training loss", xaxis_title="epoch", yaxis_title="cross-entropy", height=height,
                      xaxis_rangemode="tozero",
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=1.02, x=1, xanchor="right",
                                                                     yanchor="bottom"))
    return fig


def accuracy_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], height: int = 300,
                    title: str = "Test accuracy") -> go.Figure:
    """Accuracy (0..1) against epochs, one line per named curve {name: (epochs, accuracies)}."""
    fig = go.Figure()
    for name, (epochs, accs) in curves.items():
        fig.add_trace(go.Scatter(x=np.asarray(epochs, dtype=np.float64), y=np.asarray(accs, dtype=np.float64),
                                 mode="lines+markers", name=name, marker=dict(size=5),
                                 hovertemplate="epoch %{x:.2f}: %{y:.2%}<extra>" + name + "</extra>"))
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="accuracy", yaxis_tickformat=".0%",
                      yaxis_range=[0, 1.02], xaxis_rangemode="tozero", height=height,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=1.02, x=1, xanchor="right",
                                                                     yanchor="bottom"))
    return fig
