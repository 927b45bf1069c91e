"""Training curves: loss per batch and test accuracy, from plain lists.

The figures are built from plain dicts without Plotly's validation (`_validate=False`): the Train
page redraws them every second while a run trains, and validating costs ten times the drawing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

_BLOCK = 256
_LEGEND = {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


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
    """Exponential moving average, bias-corrected so the first points are not pulled to 0.

    acc_i = (1 - alpha) acc_{i-1} + alpha x_i, computed block by block with a small matrix (no Python
    loop over the values), then divided by 1 - (1 - alpha)^(i+1).
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return v.copy()
    decay = 1.0 - alpha
    i = np.arange(_BLOCK)
    lower = np.tril(decay ** np.clip(i[:, None] - i[None, :], 0, None)) * alpha  # (B, B)
    carry_weights = decay ** (i + 1)  # (B,)
    out = np.empty(n)
    carry = 0.0
    for start in range(0, n, _BLOCK):
        block = v[start : start + _BLOCK]  # (b,)
        b = len(block)
        acc = lower[:b, :b] @ block + carry_weights[:b] * carry
        out[start : start + b] = acc
        carry = acc[-1]
    return out / (1.0 - decay ** np.arange(1, n + 1))


def _figure(data: list[dict], layout: dict) -> go.Figure:
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def loss_figure(
    losses: Sequence[float],
    steps_per_epoch: int = 1,
    max_points: int = 300,
    height: int = 300,
    epochs: float | None = None,
) -> go.Figure:
    """Training loss against epochs: batch losses (binned to `max_points`) and a smoothed line.

    `epochs`: the run's planned length, so the axis spans the whole run while it trains.
    """
    per_epoch = max(1, steps_per_epoch)
    steps, means = binned(losses, max_points)
    _, smooth = binned(smoothed(losses), max_points)
    x = steps / per_epoch
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": means,
            "mode": "lines",
            "name": "batch loss",
            "line": {"color": "rgba(99,110,250,0.35)", "width": 1},
            "hovertemplate": "epoch %{x:.2f}: %{y:.3f}<extra></extra>",
        },
        {
            "type": "scatter",
            "x": x,
            "y": smooth,
            "mode": "lines",
            "name": "smoothed",
            "line": {"color": "rgb(99,110,250)", "width": 2.5},
            "hovertemplate": "epoch %{x:.2f}: %{y:.3f}<extra>smoothed</extra>",
        },
    ]
    xaxis = {"title": {"text": "epoch"}, "rangemode": "tozero"}
    if epochs:
        xaxis["range"] = [0, float(epochs)]
    layout = {
        "title": {"text": "Training loss"},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": "cross-entropy"}, "rangemode": "tozero"},
        "height": height,
        "margin": _MARGIN,
        "legend": _LEGEND,
    }
    return _figure(data, layout)


def accuracy_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    height: int = 300,
    title: str = "Test accuracy",
    epochs: float | None = None,
    references: Mapping[str, float] | None = None,
) -> go.Figure:
    """Accuracy (0..1) against epochs, one line per named curve {name: (epochs, accuracies)}.

    `epochs`: the x-axis length (the run's planned epochs), else the longest curve's. `references`:
    {name: accuracy} drawn as dashed horizontal lines, e.g. the shipped model's final accuracy, so
    a 1-epoch run is compared with a 30-epoch model without sitting in the corner of a 30-epoch axis.
    """
    data = []
    longest = 0.0
    for name, (xs, accs) in curves.items():
        x = np.asarray(xs, dtype=np.float64)
        longest = max(longest, float(x.max()) if x.size else 0.0)
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": np.asarray(accs, dtype=np.float64),
                "mode": "lines+markers",
                "name": name,
                "marker": {"size": 5},
                "hovertemplate": "epoch %{x:.2f}: %{y:.2%}<extra>" + name + "</extra>",
            }
        )
    x_max = float(epochs) if epochs else (longest or 1.0)
    for k, (name, acc) in enumerate((references or {}).items()):
        data.append(
            {
                "type": "scatter",
                "x": [0.0, x_max],
                "y": [float(acc), float(acc)],
                "mode": "lines",
                "name": name,
                "line": {"dash": "dash", "width": 1.5, "color": ["#7f7f7f", "#bcbd22"][k % 2]},
                "hovertemplate": f"{name}: %{{y:.2%}}<extra></extra>",
            }
        )
    layout = {
        "title": {"text": title},
        "xaxis": {"title": {"text": "epoch"}, "range": [0, x_max]},
        "yaxis": {"title": {"text": "accuracy"}, "tickformat": ".0%", "range": [0, 1.02]},
        "height": height,
        "margin": _MARGIN,
        "legend": _LEGEND,
    }
    return _figure(data, layout)
