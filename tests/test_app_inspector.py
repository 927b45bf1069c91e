"""The unit inspector and what-if experiments clicked through with AppTest on the explorer and draw pages for
every cell type, picked by number and through a clicked heatmap cell; the unit ablation on the neuron explorer."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from plotly_json import chart_by_key, decode
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest
from test_app_draw import SEVEN, draw_on_canvas, stroke_picture

from lstmviz.arithmetic import reading, unit_step
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint, save_checkpoint
from lstmviz.figures.common import MARK
from lstmviz.figures.inspector import equation_lines
from lstmviz.intervene import Intervention, answer_change, intervene_image
from lstmviz.model import ModelConfig, build_model
from lstmviz.preprocess import canvas_to_mnist
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.trace import trace_image
from lstmviz.ui.common import MODEL_KEY

CELLS = ("lstm", "gru", "rnn")


def shipped(cell: str):
    path = MODELS_DIR / f"{cell}.safetensors"
    if not path.exists():
        pytest.fail(f"{path} is missing")
    return path


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def messages(at) -> list[str]:
    return [m.body for m in list(at.warning) + list(at.info)]


def whatif_lines(at, key: str) -> dict[str, np.ndarray]:
    fig = chart_by_key(at, key)
    return {t["name"]: np.asarray(decode(t["y"]), dtype=np.float64) for t in fig["data"]}


def check_inspector(at, p: str, model, image: np.ndarray, unit: int, step: int) -> None:
    """The panel shows the unit's equations and reading as the library computes them."""
    assert at.number_input(key=f"{p}insp_unit").value == unit and at.number_input(key=f"{p}insp_step").value == step
    us = unit_step(model, image, unit, step)
    shown = [el.body.strip().strip("$").strip() for el in at.latex]
    for line in equation_lines(us):
        assert line in shown
    text = " ".join(m.body for m in at.markdown)
    assert reading(us)[0] in text
    pix = chart_by_key(at, f"{p}insp_fig_pixels")
    np.testing.assert_allclose(np.asarray(decode(pix["data"][0]["z"]), np.float64)[0], image[step - 1], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(decode(pix["data"][1]["z"]), np.float64),
        np.stack([g.pixel_push for g in us.gates.values()]),
        atol=1e-5,
    )


def check_experiment(at, p: str, model, image: np.ndarray, iv: Intervention) -> None:
    before, after = trace_image(model, image), intervene_image(model, image, iv)
    change = answer_change(before, after)
    assert any(change.sentence() in m and iv.describe(model.config.cell) in m for m in messages(at)), messages(at)
    lines = whatif_lines(at, f"{p}insp_fig_whatif")
    np.testing.assert_allclose(lines[f"{change.after} what-if"], after.probs[:, change.after], atol=1e-5)
    np.testing.assert_allclose(lines[f"{change.before} original"], before.probs[:, change.before], atol=1e-5)


def click_through(at, p: str, model, image: np.ndarray) -> None:
    cell = model.config.cell
    at.number_input(key=f"{p}insp_unit").set_value(7)
    at.number_input(key=f"{p}insp_step").set_value(12).run()
    ok(at)
    check_inspector(at, p, model, image, 7, 12)
    at.radio(key=f"{p}insp_pixel_show").set_value("weights").run()
    us = unit_step(model, image, 7, 12)
    pix = chart_by_key(at, f"{p}insp_fig_pixels")
    np.testing.assert_allclose(
        np.asarray(decode(pix["data"][1]["z"]), np.float64),
        np.stack([g.pixel_weights for g in us.gates.values()]),
        atol=1e-5,
    )
    at.radio(key=f"{p}insp_pixel_show").set_value("push").run()
    kinds = at.radio(key=f"{p}insp_exp").options
    assert ("Clamp" in " ".join(kinds)) == (cell != "rnn")
    # silence the selected unit, then a set of units
    at.radio(key=f"{p}insp_exp").set_value("silence").run()
    ok(at)
    check_experiment(at, p, model, image, Intervention(silence=(7,)))
    at.multiselect(key=f"{p}insp_silence").set_value([3, 7, 40]).run()
    check_experiment(at, p, model, image, Intervention(silence=(3, 7, 40)))
    # blank the rows after a step
    at.radio(key=f"{p}insp_exp").set_value("blank").run()
    assert at.number_input(key=f"{p}insp_blank_after").value == 12
    at.number_input(key=f"{p}insp_blank_after").set_value(9).run()
    ok(at)
    check_experiment(at, p, model, image, Intervention(blank_after=9))
    if cell != "rnn":
        at.radio(key=f"{p}insp_exp").set_value("clamp").run()
        at.radio(key=f"{p}insp_clamp_value").set_value(0.0)
        at.number_input(key=f"{p}insp_clamp_from").set_value(5).run()
        ok(at)
        check_experiment(at, p, model, image, Intervention(clamp_forget=0.0, clamp_from=5))
        at.radio(key=f"{p}insp_clamp_value").set_value(1.0)
        at.radio(key=f"{p}insp_clamp_scope").set_value("unit").run()
        ok(at)
        check_experiment(at, p, model, image, Intervention(clamp_forget=1.0, clamp_from=5, clamp_units=(7,)))


@pytest.mark.parametrize("cell", CELLS)
def test_explorer_inspector(open_page, cell, test_split):
    at = open_page("pages/explorer.py", shipped(cell))
    model = load_checkpoint(shipped(cell)).model
    at.number_input(key="exp_index").set_value(3).run()
    ok(at)
    click_through(at, "exp_", model, test_split.images[3].numpy())


@pytest.mark.parametrize("cell", CELLS)
def test_draw_inspector(app, cell):
    app.session_state[MODEL_KEY] = str(shipped(cell))
    app.run()
    app.switch_page("pages/draw.py").run()
    ok(app)
    drawing = stroke_picture(SEVEN)
    draw_on_canvas(app, drawing)
    app.run()
    ok(app)
    click_through(app, "draw_", load_checkpoint(shipped(cell)).model, canvas_to_mnist(drawing))


def inspector_script():
    """A page that shows the inspector for test digit 0 with the clicked cell in session_state["picked"]."""
    import streamlit as st

    from lstmviz.checkpoint import load_checkpoint
    from lstmviz.data import load_split
    from lstmviz.trace import trace_image
    from lstmviz.ui.inspector import render_inspector

    loaded = load_checkpoint(st.session_state["ckpt"])
    image = load_split(False).images[0].numpy()
    render_inspector(loaded, trace_image(loaded.model, image), image, "t_", picked=st.session_state.get("picked"))


@pytest.mark.parametrize("cell", CELLS)
def test_a_clicked_cell_picks_unit_and_step(cell, test_split):
    at = AppTest.from_function(inspector_script, default_timeout=120)
    at.session_state["ckpt"] = str(shipped(cell))
    at.run()
    ok(at)
    model = load_checkpoint(shipped(cell)).model
    image = test_split.images[0].numpy()
    at.session_state["picked"] = {"view": "h", "unit": 42, "step": 20}
    at.run()
    ok(at)
    check_inspector(at, "t_", model, image, 42, 20)
    assert any("Picked from the **h** heatmap" in c.value for c in at.caption)
    at.number_input(key="t_insp_unit").set_value(43).run()  # typing after a click wins ...
    check_inspector(at, "t_", model, image, 43, 20)
    at.session_state["picked"] = {
        "view": "c" if cell == "lstm" else "h",
        "unit": 500,
        "step": 0,
    }  # ... until the next click
    at.run()
    ok(at)
    check_inspector(at, "t_", model, image, 127, 1)  # clipped to the model's units and steps


def test_blanking_links_to_the_truncation_page(open_page, tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "models"))
    model = build_model(ModelConfig(hidden_size=16, embed_size=8), seed=0)
    path = save_checkpoint(tmp_path / "models" / "tiny.safetensors", model, {"test_accuracy": 0.1})
    at = open_page("pages/explorer.py", path)
    at.radio(key="exp_insp_exp").set_value("blank").run()
    at.number_input(key="exp_insp_blank_after").set_value(11).run()
    at.button(key="exp_insp_to_truncation").click().run()
    ok(at)
    assert at.session_state["trunc_mode"] == "occlusion" and at.session_state["trunc_k"] == 11
    assert any("Truncation" in t.value for t in at.title)


# ---------------------------------------------------------------- unit ablation on the neuron explorer


def click_bar(at, key: str, unit: int):
    """What the browser sends when a bar is clicked: the chart's selection as its widget state."""
    states = WidgetStates()
    states.CopyFrom(at._tree.get_widget_states())
    event = {
        "selection": {
            "points": [{"curve_number": 0, "point_number": unit, "x": unit, "customdata": unit}],
            "point_indices": [unit],
            "box": [],
            "lasso": [],
        }
    }
    (el,) = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    state = states.widgets.add()
    state.id = el.proto.id
    state.string_value = json.dumps(event)
    return at._run(states)


def test_neuron_page_ablation_chart_and_click(app, tmp_path, monkeypatch, test_split):
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "models"))
    monkeypatch.setenv("LSTMVIZ_CACHE_DIR", str(tmp_path / "cache"))
    model = build_model(ModelConfig(hidden_size=16, embed_size=8), seed=3)
    model.init_notebook_()
    path = save_checkpoint(tmp_path / "models" / "tiny-abl.safetensors", model, {"test_accuracy": 0.1})
    app.session_state[MODEL_KEY] = str(path)
    app.run()
    app.switch_page("pages/neurons.py").run()
    ok(app)
    key = "neuron_insp_fig_ablation"
    assert not any(c.proto.id.endswith(f"-{key}") for c in app.get("plotly_chart"))  # nothing runs until asked
    app.button(key="neuron_insp_ablation_start").click().run()
    deadline = time.monotonic() + 300
    while not any(c.proto.id.endswith(f"-{key}") for c in app.get("plotly_chart")) and time.monotonic() < deadline:
        ok(app)
        assert app.get("progress") or app.get("plotly_chart")  # still computing: a progress bar
        time.sleep(0.5)
        app.run()
    ok(app)
    fig = chart_by_key(app, key)
    units = np.asarray(decode(fig["data"][0]["customdata"]))
    heights = np.asarray(decode(fig["data"][0]["y"]), np.float64)
    labels = test_split.labels.numpy()
    loaded = load_checkpoint(path)
    with torch.no_grad():
        base = float(np.mean(loaded.model(test_split.images).argmax(-1).numpy() == labels))
    from lstmviz.intervene import intervene

    for u in (9,):
        t = intervene(loaded.model, test_split.images, Intervention(silence=(u,)))
        direct = float(np.mean(t.probs[:, -1].argmax(-1) == labels))
        assert heights[list(units).index(u)] == pytest.approx(100 * (base - direct), abs=1e-6)
    # sorted, then a click on a bar selects that unit for the whole page
    app.radio(key="neuron_insp_ablation_order").set_value("drop").run()
    fig = chart_by_key(app, key)
    heights = np.asarray(decode(fig["data"][0]["y"]), np.float64)
    assert np.all(np.diff(heights) <= 1e-9)
    click_bar(app, key, 9)
    ok(app)
    assert app.number_input(key="neuron_unit").value == 9
    assert "Unit 9 of h" in chart_by_key(app, "neuron_fig_profile")["layout"]["title"]["text"]
    colors = chart_by_key(app, key)["data"][0]["marker"]["color"]
    order = list(np.asarray(decode(chart_by_key(app, key)["data"][0]["customdata"])))
    assert colors[order.index(9)] == MARK
