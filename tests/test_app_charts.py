"""Every Plotly chart of the app can be downloaded as PNG or SVG: one chart config (lstmviz.figures.common.
chart_config) through one wrapper (lstmviz.ui.charts.plotly_chart), its format set by the sidebar."""

from __future__ import annotations

import json
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest

from lstmviz.figures.common import DOWNLOAD_SCALE, MODEBAR_TOOLS, chart_config, figure_title, file_stem

ROOT = Path(__file__).resolve().parent.parent


def test_chart_config():
    config = chart_config("Hidden state <b>h</b> at step 17", "svg")
    assert config["toImageButtonOptions"] == {
        "format": "svg",
        "filename": "lstmviz-hidden-state-h-at-step-17",
        "scale": DOWNLOAD_SCALE,
    }
    assert config["displaylogo"] is False and "toImage" not in config["modeBarButtonsToRemove"]
    assert set(config["modeBarButtonsToRemove"]) == set(MODEBAR_TOOLS)
    assert "modeBarButtonsToRemove" not in chart_config(None, tools=True)  # Plotly's own tools stay
    assert chart_config(None, fallback="trunc_fig_curves")["toImageButtonOptions"]["filename"] == (
        "lstmviz-trunc-fig-curves"
    )
    assert file_stem("", "") == "lstmviz-figure" and len(file_stem("x" * 200)) <= len("lstmviz-") + 60
    with pytest.raises(ValueError):
        chart_config("t", "pdf")


def test_figure_title_of_a_figure_and_of_its_dict():
    fig = go.Figure(layout={"title": {"text": "Probabilities"}})
    assert figure_title(fig) == "Probabilities" == figure_title(fig.to_dict())
    assert figure_title(go.Figure()) is None and figure_title({"layout": {"title": "Plain"}}) == "Plain"


def test_no_chart_bypasses_the_wrapper():
    """A new `st.plotly_chart` call would have no download config: every call goes through lstmviz.ui.charts."""
    calls = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("lstmviz/**/*.py"), ROOT / "app.py"]:
        if path.name == "charts.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.plotly_chart\(", line):
                calls.append(f"{path.relative_to(ROOT)}:{n}")
    assert not calls, calls


def _configs(at) -> dict[str, dict]:
    return {el.proto.id.rsplit("-", 1)[-1]: json.loads(el.proto.config) for el in at.get("plotly_chart")}


PAGES = {  # page -> charts it shows on opening (at least)
    "pages/home.py": {"home_strip"},
    "pages/explorer.py": {"exp_fig_anatomy"},
    "pages/lesson.py": {"lesson_fig_rows"},
    "pages/state_space.py": {"space_fig_paths", "space_fig_separation"},
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_chart_carries_the_download_config_in_the_chosen_format(open_page, page):
    at = open_page(page)
    configs = _configs(at)
    assert PAGES[page] <= set(configs), sorted(configs)
    for key, config in configs.items():
        options = config["toImageButtonOptions"]
        assert options["format"] == "png" and options["scale"] == DOWNLOAD_SCALE, key
        assert re.fullmatch(r"lstmviz-[a-z0-9-]+", options["filename"]), options
    (choice,) = [r for r in at.sidebar.radio if r.key == "figure_format"]
    assert choice.options == ["PNG", "SVG"]
    choice.set_value("svg").run()
    assert not at.exception
    configs = _configs(at)
    assert PAGES[page] <= set(configs)
    assert {c["toImageButtonOptions"]["format"] for c in configs.values()} == {"svg"}
