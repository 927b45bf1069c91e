"""Streamlit glue shared by the pages (the only part of lstmviz that imports streamlit).

Modules that Plotly and Streamlit import lazily, on first use inside a session's thread, are
imported here once, when app.py first imports this package: two sessions' first visits at once
otherwise raced on a half-imported module ("partially initialized module 'pandas' has no
attribute 'Series'").
"""

import pandas  # noqa: F401  (imported lazily by plotly and streamlit otherwise)
import plotly.graph_objects as _go

# Plotly builds its trace and layout validators lazily, on the first figure of each kind.
_go.Figure([_go.Scatter(x=[0]), _go.Heatmap(z=[[0]]), _go.Bar(x=[0])], layout={"title": {"text": ""}}).to_dict()
