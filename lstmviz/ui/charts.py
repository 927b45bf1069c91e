"""Every Plotly chart of the app goes through `plotly_chart`: one config, so that the camera button
above any chart (on hover) downloads it for slides, as PNG or SVG (the sidebar's "Figure downloads").

Plotly draws the file in the browser: no server work, no kaleido, works offline. The step-through's
own views (a browser component, not Plotly) are exported on the server: "Download for slides".
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..figures.common import FIGURE_FORMATS, chart_config, figure_title
from .cache import FrozenFigure

FORMAT_KEY = "figure_format"


def figure_format() -> str:
    """The format the camera buttons download: "png" (the default) or "svg"."""
    fmt = st.session_state.get(FORMAT_KEY)
    return fmt if fmt in FIGURE_FORMATS else FIGURE_FORMATS[0]


def format_choice() -> None:
    """The sidebar's "Figure downloads: PNG / SVG" (app.py, every page)."""
    st.sidebar.radio(
        "Figure downloads",
        FIGURE_FORMATS,
        format_func=str.upper,
        horizontal=True,
        key=FORMAT_KEY,
        help="The camera button above any chart (hover over it) downloads that chart in this format: PNG at "
        "twice the screen size, or SVG for sharp slides. The step-through's views are in its "
        '"Download for slides" area (GIF, MP4, PNG, SVG).',
    )


def plotly_chart(fig: go.Figure | dict, *, key: str, where: Any = None, tools: bool = False, **kwargs: Any):
    """`st.plotly_chart(fig, key=key, **kwargs)` (in `where`, e.g. a column) with the app's chart config:
    the camera downloads the chart as PNG or SVG, named after its title (else its key). `tools`: keep
    Plotly's zoom/pan buttons too (otherwise the camera is the only one)."""
    spec = fig.spec if isinstance(fig, FrozenFigure) else fig
    config = chart_config(figure_title(spec), figure_format(), tools=tools, fallback=key)
    return (where if where is not None else st).plotly_chart(fig, key=key, config=config, **kwargs)
