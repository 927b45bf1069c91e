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
# lives as long as the server, out of the collector's generations: a collection then scans only the
# objects the sessions create. Torch is not imported here (a first page that shows stored results needs
# none): `freeze_imports` runs again once it is (lstmviz.ui.common, on loading a model).
import gc as _gc  # noqa: E402
import sys as _sys  # noqa: E402

_FROZEN_WITH: set[str] = set()  # the heavy modules loaded at the last freeze


def freeze_imports() -> None:
    """Freeze the objects alive now, once per process and again after torch has been imported."""
    heavy = {name for name in ("pandas", "plotly", "torch") if name in _sys.modules}
    if heavy <= _FROZEN_WITH:
        return
    _FROZEN_WITH.update(heavy)
    _gc.collect()
    _gc.freeze()


freeze_imports()
