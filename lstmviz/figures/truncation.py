"""Truncation figures: accuracy against rows read, per class, confusion, digits as seen, decision steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .common import CLASS_COLORS, MODE_COLORS, digit_strip

_LEGEND = dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom")
_MARGIN = dict(l=10, r=10, t=40, b=10)


def _k_axis(fig: go.Figure) -> None:
    fig.update_xaxes(title="rows read (k)", range=[0.5, 28.5], dtick=2)


def curves_figure(
    curves: Mapping[str, Sequence[float]],
    k: int | None = None,
    published: tuple[int, float] | None = None,
    colors: Mapping[str, str] | None = None,
    height: int = 380,
    title: str = "Test accuracy against rows read",
) -> go.Figure:
    """Accuracy (28,) for k = 1..28, one line per named curve; a marker for a published point and a line at k."""
    colors = {**MODE_COLORS, **(colors or {})}
    ks = np.arange(1, 29)
    fig = go.Figure()
    for name, acc in curves.items():
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=np.asarray(acc, dtype=np.float64),
                mode="lines+markers",
                name=name,
                line=dict(color=colors.get(name), width=2.5),
                marker=dict(size=5),
                hovertemplate="%{x} rows: %{y:.2%}<extra>" + name + "</extra>",
            )
        )
    if published is not None:
        pk, pacc = published
        fig.add_trace(
            go.Scatter(
                x=[pk],
                y=[pacc],
                mode="markers+text",
                name="notebook's published result",
                marker=dict(symbol="star", size=16, color="black"),
                text=[f"notebook: {pk} rows → {pacc:.1%}"],
                textposition="middle left",
                hovertemplate="%{x} rows: %{y:.1%}<extra>published</extra>",
            )
        )
    if k is not None:
        fig.add_vline(x=k, line=dict(color="grey", dash="dot"), name="chosen k")
    _k_axis(fig)
    fig.update_yaxes(title="test accuracy", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(title=title, height=height, margin=_MARGIN, legend=_LEGEND, hovermode="x unified")
    return fig


def per_class_figure(
    per_class: np.ndarray, k: int | None = None, height: int = 380, title: str = "Accuracy per class"
) -> go.Figure:
    """Per-class accuracy (28, 10) against k, one line per digit in the shared class colours."""
    per_class = np.asarray(per_class, dtype=np.float64)
    ks = np.arange(1, per_class.shape[0] + 1)
    fig = go.Figure()
    for c in range(per_class.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=per_class[:, c],
                mode="lines",
                name=str(c),
                line=dict(color=CLASS_COLORS[c % len(CLASS_COLORS)], width=2),
                hovertemplate="digit " + str(c) + ", %{x} rows: %{y:.1%}<extra></extra>",
            )
        )
    if k is not None:
        fig.add_vline(x=k, line=dict(color="grey", dash="dot"))
    _k_axis(fig)
    fig.update_yaxes(title="accuracy", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(title=title, height=height, margin=_MARGIN, legend=dict(title="digit"))
    return fig


def confusion_figure(matrix: np.ndarray, title: str = "Confusion matrix", height: int = 400) -> go.Figure:
    """Counts (10, 10), true class down, prediction across; each cell shows its count, colour = share of its row."""
    m = np.asarray(matrix, dtype=np.int64)
    totals = m.sum(1, keepdims=True)
    share = np.divide(m, totals, out=np.zeros(m.shape), where=totals > 0)
    labels = [str(i) for i in range(m.shape[0])]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=labels,
            y=labels,
            text=m,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar=dict(title="share", tickformat=".0%"),
            hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of the row)<extra></extra>",
        )
    )
    fig.update_xaxes(title="predicted", type="category", side="bottom")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    fig.update_layout(title=title, height=height, margin=_MARGIN)
    return fig


UNREAD_COLOR = "#f6d5d5"


def seen_strip(images: np.ndarray, labels: Sequence[int], predictions: Sequence[int], height: int = 170) -> go.Figure:
    """Digits as the model sees them (N, 28, 28), titled "true → predicted"; NaN rows (not read) are shaded."""
    titles = [
        f"{int(t)} → {int(p)}" + ("" if int(t) == int(p) else " ✗") for t, p in zip(labels, predictions, strict=False)
    ]
    images = np.asarray(images)
    fig = digit_strip(images, titles, height=height)
    for i, img in enumerate(images):
        unread = np.isnan(img)
        if unread.any():  # a one-colour layer over the unread cells only
            fig.add_trace(
                go.Heatmap(
                    z=np.where(unread, 1.0, np.nan),
                    colorscale=[[0, UNREAD_COLOR], [1, UNREAD_COLOR]],
                    showscale=False,
                    hoverinfo="skip",
                    name="not read",
                ),
                row=1,
                col=i + 1,
            )
    return fig


def decision_figure(
    steps: np.ndarray,
    height: int = 340,
    title: str = "Rows needed to decide: first k from which the answer stays right",
    color: str = MODE_COLORS["notebook"],
) -> go.Figure:
    """Histogram of decision steps (N,) over k = 1..28 plus a "never" bar for -1, and the cumulative share.

    The bars take `color` (the mode's colour); the cumulative line is ink (black), never a category colour."""
    steps = np.asarray(steps, dtype=np.int64)
    n = max(len(steps), 1)
    counts = np.bincount(steps[steps >= 1], minlength=29)[1:29]  # (28,)
    never = int((steps < 1).sum())
    x = [str(k) for k in range(1, 29)] + ["never"]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=list(counts) + [never],
            name="digits",
            marker_color=[color] * 28 + ["#bbbbbb"],
            hovertemplate="%{x}: %{y} digits<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x[:28],
            y=np.cumsum(counts) / n,
            mode="lines",
            name="share decided by k rows",
            yaxis="y2",
            line=dict(color="#111111", width=2),
            hovertemplate="decided by %{x} rows: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=height,
        margin=_MARGIN,
        legend=_LEGEND,
        bargap=0.1,
        xaxis=dict(title="rows read (k)", type="category"),
        yaxis=dict(title="digits"),
        yaxis2=dict(
            title="share decided",
            overlaying="y",
            side="right",
            tickformat=".0%",
            range=[0, 1.02],
            dtick=0.25,
            showgrid=False,
        ),
    )
    return fig
