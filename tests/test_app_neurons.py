"""The neuron explorer driven by AppTest: the figures follow the unit, picked by number or by a click on the map."""

from __future__ import annotations

import json

import numpy as np
import pytest
from plotly_json import chart_spec, decode
from streamlit.proto.WidgetStates_pb2 import WidgetStates

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from lstmviz.model import ModelConfig, build_model
from lstmviz.neurons import class_profile, unit_values
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.statespace import balanced_sample, collect_states
from lstmviz.ui.common import MODEL_KEY

PAGE = "pages/neurons.py"


@pytest.fixture
def neurons_page(open_page):
    return open_page(PAGE)


def element(at, key: str):
    found = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"no single chart with key {key}"
    return found[0]


def chart(at, key: str) -> dict:
    return chart_spec(element(at, key))


def profile_means(fig: dict) -> np.ndarray:
    """(10, T) class-mean lines of the per-class figure."""
    lines = {t.get("name"): t for t in fig["data"]}
    return np.stack([np.asarray(decode(lines[f"digit {c}"]["y"]), dtype=np.float64) for c in range(10)])


def click_unit(at, unit: int, step: int = 5):
    """What the browser sends when a map cell is clicked: the chart's selection as its widget state
    (AppTest has no API for chart selections, so the state is added to the next run's widget states)."""
    states = WidgetStates()
    states.CopyFrom(at._tree.get_widget_states())
    event = {
        "selection": {
            "points": [
                {"curve_number": 1, "point_number": unit * 28 + step - 1, "x": step, "y": unit, "customdata": unit}
            ],
            "point_indices": [unit * 28 + step - 1],
            "box": [],
            "lasso": [],
        }
    }
    state = states.widgets.add()
    state.id = element(at, "neuron_map").proto.id
    state.string_value = json.dumps(event)
    return at._run(states)


def test_page_shows_the_unit_per_class(neurons_page, test_split):
    fig = chart(neurons_page, "neuron_fig_profile")
    loaded = load_checkpoint(DEFAULT_CHECKPOINT)
    idx = balanced_sample(test_split.labels.numpy(), 1000)
    states = collect_states(loaded.model, test_split.images.numpy()[idx])
    expected = class_profile(unit_values(states.h, 0), test_split.labels.numpy()[idx]).mean
    np.testing.assert_allclose(profile_means(fig), expected, atol=1e-5)
    assert "Unit 0 of h" in fig["layout"]["title"]["text"]
    strip = chart(neurons_page, "neuron_fig_top")
    assert len(strip["data"]) == 8
    grid = chart(neurons_page, "neuron_map")
    assert {t["type"] for t in grid["data"]} == {"heatmap", "scatter"}


def test_changing_the_unit_changes_the_figures(neurons_page):
    before = {k: chart(neurons_page, k) for k in ("neuron_fig_profile", "neuron_fig_changes", "neuron_map")}
    neurons_page.number_input(key="neuron_unit").set_value(42).run()
    assert not neurons_page.exception
    after = {k: chart(neurons_page, k) for k in before}
    assert not np.allclose(profile_means(after["neuron_fig_profile"]), profile_means(before["neuron_fig_profile"]))
    assert not np.allclose(
        decode(after["neuron_fig_changes"]["data"][0]["y"]), decode(before["neuron_fig_changes"]["data"][0]["y"])
    )
    assert after["neuron_map"]["layout"]["shapes"][0]["y0"] == 41.5
    assert "Unit 42" in after["neuron_fig_profile"]["layout"]["title"]["text"]


def test_clicking_the_map_selects_the_unit(neurons_page):
    click_unit(neurons_page, 77)
    assert not neurons_page.exception, [e.value for e in neurons_page.exception]
    assert neurons_page.number_input(key="neuron_unit").value == 77
    assert "Unit 77" in chart(neurons_page, "neuron_fig_profile")["layout"]["title"]["text"]
    assert chart(neurons_page, "neuron_map")["layout"]["shapes"][0]["y0"] == 76.5


def test_c_state_and_class_average_map(neurons_page):
    neurons_page.radio(key="neuron_state").set_value("c").run()
    neurons_page.radio(key="neuron_source").set_value("class").run()
    neurons_page.selectbox(key="neuron_class").set_value(3).run()
    assert not neurons_page.exception
    fig = chart(neurons_page, "neuron_fig_profile")
    assert "of c" in fig["layout"]["title"]["text"]
    assert "3s" in chart(neurons_page, "neuron_map")["layout"]["title"]["text"]


def test_a_small_gru_has_only_h_and_fewer_units(app, tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "models"))  # a user model the sidebar can select
    model = build_model(ModelConfig(hidden_size=16, embed_size=8, cell="gru"), seed=0)
    path = save_checkpoint(tmp_path / "models" / "tiny-gru.safetensors", model, {"test_accuracy": 0.1})
    app.session_state[MODEL_KEY] = str(path)
    app.session_state["neuron_state"] = "c"  # left over from an LSTM with 128 units
    app.session_state["neuron_unit"] = 100
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.session_state[MODEL_KEY] == str(path)
    assert app.radio(key="neuron_state").options == ["h"]
    assert app.number_input(key="neuron_unit").max == 15
    assert app.number_input(key="neuron_unit").value == 0  # unit 100 does not exist here
    app.number_input(key="neuron_unit").set_value(15).run()
    assert not app.exception
    assert "Unit 15 of h" in chart(app, "neuron_fig_profile")["layout"]["title"]["text"]
