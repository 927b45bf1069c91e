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

# Streamlit runs a full garbage collection after every script run, fragment reruns included
# (runner.postScriptGC): with torch, plotly and pandas loaded that scans ~270,000 objects, about
# 50-150 ms of server CPU per rerun, paid by every session. Move what the imports created, which
# lives as long as the server, out of the collector's generations (once per process): a collection
# then scans only the objects the sessions create.
import gc as _gc  # noqa: E402

import torch as _torch  # noqa: E402, F401  (imported by every page anyway: its objects are frozen too)

if not _gc.get_freeze_count():
    _gc.collect()
    _gc.freeze()
