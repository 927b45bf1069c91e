"""The hidden-state space page driven by AppTest: the picture follows the sample, the view and the chosen digit."""

from __future__ import annotations

import numpy as np
import pytest
from plotly_json import chart_by_key, decode

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from lstmviz.model import ModelConfig, build_model
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.statespace import fit_model_pca
from lstmviz.trace import trace_image
from lstmviz.ui.common import MODEL_KEY

PAGE = "pages/state_space.py"


@pytest.fixture
def space_page(open_page):
    return open_page(PAGE)


chart = chart_by_key


def selected_path(fig: dict) -> np.ndarray:
    """(t, d) points of the highlighted digit's thick path in the figure as shown."""
    (trace,) = [t for t in fig["data"] if t.get("name") == "selected digit"]
    axes = ["x", "y", "z"] if trace["type"] == "scatter3d" else ["x", "y"]
    return np.stack([np.asarray(decode(trace[a]), dtype=np.float64) for a in axes], -1)


def n_points(fig: dict) -> int:
    """How many digits are drawn: the points of the ten per-class marker traces."""
    return sum(len(decode(t["x"])) for t in fig["data"] if t.get("mode") == "markers" and t.get("legendgroup"))


def test_page_renders_the_animated_picture_and_separation(space_page, test_split):
    fig = chart(space_page, "space_fig_paths")
    assert len(fig["frames"]) == 28
    assert {t["type"] for t in fig["data"]} == {"scatter"}
    assert n_points(fig) == 500
    sep = chart(space_page, "space_fig_separation")
    full = np.asarray(decode(sep["data"][0]["y"]))
    assert full[-1] > full[0] + 0.5  # the classes separate as rows are read
    # the highlighted path is test digit 0 projected on the model's axes
    model = load_checkpoint(DEFAULT_CHECKPOINT).model
    pca = fit_model_pca(model, test_split.images.numpy(), test_split.labels.numpy())
    expected = pca.project(trace_image(model, test_split.images[0].numpy()).h, 2)
    np.testing.assert_allclose(selected_path(fig), expected, atol=1e-4)
    assert space_page.metric[2].value == f"#0: a {int(test_split.labels[0])}"


def test_controls_change_the_picture(space_page):
    before = selected_path(chart(space_page, "space_fig_paths"))
    space_page.number_input(key="space_index").set_value(7).run()
    after = selected_path(chart(space_page, "space_fig_paths"))
    assert after.shape == before.shape and not np.allclose(after, before)

    space_page.select_slider(key="space_n").set_value(200).run()
    assert n_points(chart(space_page, "space_fig_paths")) == 200

    space_page.radio(key="space_dims").set_value("3-D").run()
    assert not space_page.exception
    fig = chart(space_page, "space_fig_paths")
    assert {t["type"] for t in fig["data"]} == {"scatter3d"}
    assert selected_path(fig).shape == (28, 3)
    np.testing.assert_allclose(selected_path(fig)[:, :2], after, atol=1e-5)  # the same axes, one more
    assert "scene" in fig["layout"]


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_page_works_with_a_small_model(cell, app, tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "models"))  # a user model the sidebar can select
    model = build_model(ModelConfig(hidden_size=16, embed_size=16, cell=cell), seed=0)
    path = save_checkpoint(tmp_path / "models" / f"tiny-{cell}.safetensors", model, {"test_accuracy": 0.1})
    app.session_state[MODEL_KEY] = str(path)
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.session_state[MODEL_KEY] == str(path)
    assert "16 numbers" in app.markdown[0].value
    assert len(chart(app, "space_fig_paths")["frames"]) == 28
