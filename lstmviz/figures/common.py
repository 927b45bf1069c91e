"""Figure pieces shared by several pages."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

INK = "Greys"
# One colour per digit class 0..9, the same on every page.
CLASS_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip


def digit_heatmap(image: np.ndarray, title: str | None = None) -> go.Heatmap:
    """One 28×28 image as a grey heatmap trace (row 0 at the top)."""
    return go.Heatmap(z=np.asarray(image), colorscale=INK, reversescale=False, zmin=0, zmax=1, showscale=False,
                      hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>", name=title or "")


def digit_strip(images: np.ndarray, titles: Sequence[str | int], height: int = 160) -> go.Figure:
    """A row of digits (N, 28, 28) with a title above each."""
    n = len(images)
    fig = make_subplots(rows=1, cols=max(n, 1), subplot_titles=[str(t) for t in titles], horizontal_spacing=0.01)
    for i, img in enumerate(images):
        fig.add_trace(digit_heatmap(img), row=1, col=i + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor=None)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0))
    return fig
