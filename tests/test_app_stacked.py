"""Every page with a stacked model selected: a 2-layer, 64-unit LSTM (issue 13 item 5), and the layer selector
changing what the unit views show (checked against Trace.at_layer and collect_states of that layer)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from plotly_json import chart_by_key, decode

from lstmviz.checkpoint import load_checkpoint, save_checkpoint
from lstmviz.figures.stepper import decode_matrix
from lstmviz.links import PAGES as LINK_PAGES
from lstmviz.model import ModelConfig, build_model
from lstmviz.neurons import class_profile, unit_values
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.statespace import balanced_sample, collect_states, fit_model_pca, separation_per_step
from lstmviz.trace import trace_image
from lstmviz.truncation import CACHE_ENV_VAR
from lstmviz.ui.common import MODEL_KEY

PAGES = tuple(f"pages/{name}.py" for name in LINK_PAGES)  # every page of the app
H = 64


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    """A 2-layer, 64-unit LSTM saved as a user model (untrained: the views must not care)."""
    folder = tmp_path_factory.mktemp("models")
    model = build_model(ModelConfig(hidden_size=H, embed_size=32, num_layers=2), seed=3)
    return save_checkpoint(folder / "lstm-2x64.safetensors", model, {"test_accuracy": 0.1})


@pytest.fixture(scope="module")
def model(stacked):
    return load_checkpoint(stacked).model


@pytest.fixture
def stacked_app(app, stacked, monkeypatch, tmp_path):
    monkeypatch.setenv(MODELS_ENV_VAR, str(stacked.parent))
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))

    def open_page(page: str):
        app.session_state[MODEL_KEY] = str(stacked)
        app.run()
        app.switch_page(page).run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return open_page


def stepper_views(at, key: str) -> dict[str, np.ndarray]:
    """The unit views the step-through component received, decoded, in the model's unit order."""
    (found,) = [c for c in at.get("bidi_component") if c.proto.id.endswith(key)]
    payload = json.loads(found.proto.json)
    back = np.argsort(payload["order"])  # position -> unit, undone
    return {v["name"]: decode_matrix(v["values"])[:, back] for v in payload["states"] + payload["gates"]}


def assert_views_are_layer(views: dict[str, np.ndarray], trace) -> None:
    for name, values in [("h", trace.h), ("c", trace.c), *trace.gates.items()]:
        np.testing.assert_allclose(views[name], values, atol=2e-5 * max(1.0, np.abs(values).max()), err_msg=name)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_a_stacked_model(stacked_app, page):
    at = stacked_app(page)
    assert not at.error, [e.value for e in at.error]
    selectors = {"pages/explorer.py": "exp_layer", "pages/draw.py": None, "pages/state_space.py": "space_layer"}
    selectors["pages/neurons.py"] = "neuron_layer"
    if selectors.get(page):
        radio = at.radio(key=selectors[page])
        assert radio.options == ["1", "2 (top)"] and radio.value == 1  # the top layer, which the readout reads


def test_home_describes_the_stack(stacked_app):
    at = stacked_app("pages/home.py")
    assert at.title[0].value == "A 2-layer LSTM reads a digit, one row at a time"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Layers"] == "2" and metrics["Hidden units"] == "64"
    text = " ".join(m.value for m in at.markdown)
    assert "stack of 2 LSTM layers" in text and "`LSTM layer 1 (32→64)` → `layer 2 (64→64)`" in text


def test_explorer_layer_selector_changes_the_unit_views(stacked_app, model, test_split):
    at = stacked_app("pages/explorer.py")
    image = test_split.images[0].numpy()
    trace = trace_image(model, image)
    assert_views_are_layer(stepper_views(at, "exp_stepper"), trace.at_layer(1))
    # the inspector works on the top layer: its input is layer 1's h, not the pixels
    assert at.get("plotly_chart") and any(c.proto.id.endswith("exp_insp_fig_below") for c in at.get("plotly_chart"))
    assert any("layer 2 of 2" in c.value for c in at.caption)
    at.radio(key="exp_layer").set_value(0).run()
    assert not at.exception, [e.value for e in at.exception]
    first = stepper_views(at, "exp_stepper")
    assert_views_are_layer(first, trace.at_layer(0))
    assert not np.allclose(first["h"], trace.at_layer(1).h, atol=1e-3)
    charts = [c.proto.id for c in at.get("plotly_chart")]
    assert any(i.endswith("exp_insp_fig_pixels") for i in charts) and not any(i.endswith("_fig_below") for i in charts)
    assert any("layer 1 of 2" in c.value for c in at.caption)
    anatomy = chart_by_key(at, "exp_fig_anatomy")
    titles = [a["text"] for a in anatomy["layout"]["annotations"] if a["text"] != "➜"]
    assert "<b>LSTM layer 1: h</b><br>28 × 64" in titles and "<b>LSTM layer 2: h</b><br>28 × 64" in titles


def test_state_space_layer_selector(stacked_app, model, test_split):
    at = stacked_app("pages/state_space.py")
    images, labels = test_split.images.numpy(), test_split.labels.numpy()
    idx = balanced_sample(labels, 500)
    for layer in (1, 0):
        if layer == 0:
            at.radio(key="space_layer").set_value(0).run()
            assert not at.exception
        sep = chart_by_key(at, "space_fig_separation")
        full = np.asarray(decode(sep["data"][0]["y"]), dtype=np.float64)  # nearest centre, all 64 dimensions
        h = collect_states(model, images[idx], layer=layer).h
        np.testing.assert_allclose(full, separation_per_step(h, labels[idx]).centroid_accuracy, atol=1e-9)
        pca = fit_model_pca(model, images, labels, layer=layer)
        path = [t for t in chart_by_key(at, "space_fig_paths")["data"] if t.get("name") == "selected digit"][0]
        shown = np.stack([np.asarray(decode(path[a]), dtype=np.float64) for a in ("x", "y")], -1)
        expected = pca.project(trace_image(model, images[0]).at_layer(layer).h, 2)
        np.testing.assert_allclose(shown, expected, atol=1e-4)


def test_neurons_layer_selector(stacked_app, model, test_split):
    at = stacked_app("pages/neurons.py")
    images, labels = test_split.images.numpy(), test_split.labels.numpy()
    idx = balanced_sample(labels, 1000)
    at.radio(key="neuron_layer").set_value(0).run()
    at.number_input(key="neuron_unit").set_value(5).run()
    assert not at.exception
    fig = chart_by_key(at, "neuron_fig_profile")
    lines = {t.get("name"): t for t in fig["data"]}
    shown = np.stack([np.asarray(decode(lines[f"digit {c}"]["y"]), dtype=np.float64) for c in range(10)])
    h0 = collect_states(model, images[idx], layer=0).h
    np.testing.assert_allclose(shown, class_profile(unit_values(h0, 5), labels[idx]).mean, atol=1e-5)
    grid = chart_by_key(at, "neuron_map")
    heat = next(t for t in grid["data"] if t["type"] == "heatmap")
    np.testing.assert_allclose(np.asarray(decode(heat["z"])), trace_image(model, images[0]).at_layer(0).h.T, atol=1e-5)
    assert "h of layer 1 of test digit #0" in grid["layout"]["title"]["text"]
    assert at.button(key="neuron_insp_ablation_start").label.startswith("Silence each of the 64 units of layer 1 ")


@pytest.mark.parametrize(
    "page, key", [("explorer", "exp_layer"), ("state_space", "space_layer"), ("neurons", "neuron_layer")]
)
def test_the_link_carries_the_layer(stacked, monkeypatch, tmp_path, page, key):
    """`?layer=1` opens the page on the layer that reads the rows and stays in the link; a layer the model does
    not have (`layer=3` of 2) is ignored: the selector shows the top layer and the link says so."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(MODELS_ENV_VAR, str(stacked.parent))
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))

    def open_link(layer: str) -> AppTest:
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
        at.session_state[MODEL_KEY] = str(stacked)
        at.query_params["layer"] = layer
        at.switch_page(f"pages/{page}.py").run()
        at.run()  # a second run, as after any interaction: the link is written from the widgets' values
        assert not at.exception, [e.value for e in at.exception]
        assert not at.warning, [w.value for w in at.warning]
        return at

    def link_layer(at: AppTest) -> str:
        value = at.query_params["layer"]
        return value[0] if isinstance(value, list) else value

    at = open_link("1")
    assert at.radio(key=key).value == 0 and link_layer(at) == "1"
    at.radio(key=key).set_value(1).run()
    assert link_layer(at) == "2"
    at = open_link("3")
    assert at.radio(key=key).value == 1 and link_layer(at) == "2"
