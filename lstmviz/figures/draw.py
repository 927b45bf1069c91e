"""Figures of the draw page: the 28x28 input the model will see."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..preprocess import CENTRE, INK_THRESHOLD, centre_of_mass
from .common import MARK, digit_trace
from .stepthrough import FONT, TITLE_FONT

FIELD = "#9aa0a6"  # outline of the 28x28 field


def input_preview_figure(image: np.ndarray, height: int = 340) -> go.Figure:
    """The preprocessed digit (28, 28) pixel by pixel, its ink box, its centre of mass and MNIST's centre."""
    img = np.asarray(image, dtype=np.float32)
    n_rows, n_cols = img.shape
    heatmap = digit_trace(img, xgap=1, ygap=1)
    shapes = [dict(type="rect", x0=-0.5, x1=n_cols - 0.5, y0=-0.5, y1=n_rows - 0.5, line=dict(color=FIELD, width=1))]
    ink = img >= INK_THRESHOLD
    if ink.any():
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        shapes.append(
            dict(
                type="rect",
                x0=cols[0] - 0.5,
                x1=cols[-1] + 0.5,
                y0=rows[0] - 0.5,
                y1=rows[-1] + 0.5,
                line=dict(color="#1f77b4", width=2, dash="dash"),
            )
        )
    marks = []
    if ink.any():  # nothing to centre before anything is drawn
        cy, cx = centre_of_mass(img)
        marks = [
            dict(
                type="scatter",
                x=[CENTRE],
                y=[CENTRE],
                mode="markers",
                name="MNIST centre",
                marker=dict(symbol="cross-thin", size=22, line=dict(color="#2ca02c", width=2)),
                hovertemplate="centre of the 28×28 field<extra></extra>",
            ),
            dict(
                type="scatter",
                x=[cx],
                y=[cy],
                mode="markers",
                name="centre of mass",
                marker=dict(symbol="x-thin", size=14, line=dict(color=MARK, width=3)),
                hovertemplate="centre of mass: row %{y:.1f}, column %{x:.1f}<extra></extra>",
            ),
        ]
    axis = dict(showticklabels=False, showgrid=False, zeroline=False, showline=False, ticks="", constrain="domain")
    layout = dict(
        title=dict(text="The model's input (28×28)", font=TITLE_FONT, x=0.01, xanchor="left"),
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white",
        xaxis=dict(range=[-0.5, n_cols - 0.5], **axis),
        yaxis=dict(range=[n_rows - 0.5, -0.5], scaleanchor="x", **axis),
        shapes=shapes,
        showlegend=False,
        uirevision="keep",
    )
    return go.Figure([heatmap, *marks], layout)
