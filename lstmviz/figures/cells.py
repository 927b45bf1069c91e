"""Figures of the cell comparison: accuracy per cell type, and how strongly the answer depends on each row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

_MARGIN = dict(l=10, r=10, t=50, b=10)


def accuracy_bars_figure(
    names: Sequence[str],
    accuracies: Sequence[float],
    colors: Sequence[str] | None = None,
    height: int = 300,
    title: str = "Test accuracy (all 28 rows)",
) -> go.Figure:
    """One bar per model with its accuracy written on it; the axis starts at zero, so bar heights compare honestly."""
    acc = np.asarray(accuracies, dtype=np.float64)
    if acc.shape != (len(names),):
        raise ValueError(f"expected {len(names)} accuracies, got shape {acc.shape}")
    fig = go.Figure(
        go.Bar(
            x=list(names),
            y=acc,
            marker=dict(color=list(colors) if colors else None),
            text=[f"{a:.2%}" for a in acc],
            textposition="outside",
            hovertemplate="%{x}: %{y:.2%}<extra></extra>",
            cliponaxis=False,
        )
    )
    fig.update_yaxes(title="test accuracy", tickformat=".0%", range=[0, 1.12], tickvals=[0, 0.25, 0.5, 0.75, 1.0])
    fig.update_layout(title=title, height=height, margin=_MARGIN, showlegend=False, bargap=0.35)
    return fig


def sensitivity_figure(
    curves: Mapping[str, Sequence[float]],
    colors: Mapping[str, str] | None = None,
    untrained: Mapping[str, Sequence[float]] | None = None,
    height: int = 420,
    title: str = "How much the answer depends on each row",
) -> go.Figure:
    """Relative sensitivity (T,) per named model against the row, on a log axis (1 = the most influential row).

    `untrained` curves (same names) are drawn dashed in the same colour: the models before training.
    """
    colors = dict(colors or {})
    fig = go.Figure()
    groups = [(curves, "", "solid")] + ([(untrained, ", untrained", "dash")] if untrained else [])
    for group, suffix, dash in groups:
        for name, curve in group.items():
            y = np.asarray(curve, dtype=np.float64)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, y.shape[0] + 1),
                    y=y,
                    mode="lines+markers",
                    name=name + suffix,
                    marker=dict(size=5),
                    line=dict(color=colors.get(name), width=2.5 if dash == "solid" else 1.8, dash=dash),
                    hovertemplate="row %{x}: %{y:.3g} of the most influential row<extra>" + name + suffix + "</extra>",
                )
            )
    fig.update_xaxes(title="input row t (read at step t)", range=[0.5, 28.5], dtick=2)
    fig.update_yaxes(title="‖∂ final logits / ∂ row t‖ (relative)", type="log", exponentformat="power")
    fig.update_layout(title=title, height=height, margin=_MARGIN, hovermode="x unified")
    return legend_below(fig)


def legend_below(fig: go.Figure) -> go.Figure:
    """Move a figure's legend under the plot (half-width charts have no room beside the title)."""
    fig.update_layout(
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.22, yanchor="top"), margin=dict(_MARGIN, b=10)
    )
    return fig
