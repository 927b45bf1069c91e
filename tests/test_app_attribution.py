"""The row-attribution section of the explorer page (the draw page uses the same component)."""

from __future__ import annotations

import numpy as np
import pytest
from plotly_json import chart_spec, decode
from test_app_draw import (  # the draw page's canvas helpers
    SEVEN,
    draw_on_canvas,
    stroke_picture,
)

from lstmviz.attribution import integrated_gradients, occlusion
from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.preprocess import canvas_to_mnist
from lstmviz.trace import trace_image
from lstmviz.ui.common import MODEL_KEY

PAGE = "pages/explorer.py"


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_CHECKPOINT)


def bars(at, key: str = "exp_attr_fig") -> tuple[np.ndarray, dict]:
    found = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"no single chart with key {key}"
    fig = chart_spec(found[0])
    bar = [t for t in fig["data"] if t["type"] == "bar"]
    assert len(bar) == 1
    return np.asarray(decode(bar[0]["x"]), dtype=np.float64), fig


def test_explorer_shows_which_rows_mattered(app, shipped, test_split):
    app.session_state[MODEL_KEY] = str(DEFAULT_CHECKPOINT)
    app.run()
    app.switch_page(PAGE).run()
    app.number_input(key="exp_index").set_value(3).run()
    assert not app.exception, [e.value for e in app.exception]
    image = test_split.images[3].numpy()
    answer = trace_image(shipped.model, image).prediction
    assert app.selectbox(key="exp_attr_class").value == answer  # starts at the model's answer
    assert "Which rows mattered?" in [t.label for t in app.tabs]  # a tab under the step-through

    rows, fig = bars(app)  # occlusion of the logit by default
    np.testing.assert_allclose(rows, occlusion(shipped.model, image, answer, "logit").rows, atol=1e-6)
    assert len(fig["data"]) == 2  # the digit and the bars
    blank = ~image.any(axis=1)
    assert blank.any() and np.all(rows[blank] == 0.0)

    app.radio(key="exp_attr_method").set_value("integrated_gradients").run()
    assert not app.exception, [e.value for e in app.exception]
    rows, fig = bars(app)
    ig = integrated_gradients(shipped.model, image, answer, "logit")
    np.testing.assert_allclose(rows, ig.rows, atol=1e-6)
    assert len(fig["data"]) == 3  # the pixel map is drawn over the digit
    assert any("add up" in c.value and f"{ig.total:+.2f}" in c.value for c in app.caption)

    other = (answer + 1) % 10
    app.selectbox(key="exp_attr_class").set_value(other).run()
    app.radio(key="exp_attr_score").set_value("probability").run()
    rows, _ = bars(app)
    np.testing.assert_allclose(rows, integrated_gradients(shipped.model, image, other, "probability").rows, atol=1e-6)

    app.number_input(key="exp_index").set_value(0).run()  # a new digit: the class follows its answer again
    new_answer = trace_image(shipped.model, test_split.images[0].numpy()).prediction
    assert app.selectbox(key="exp_attr_class").value == new_answer
    assert not app.exception, [e.value for e in app.exception]


def test_draw_page_explains_the_drawn_digit(app, shipped):
    app.session_state[MODEL_KEY] = str(DEFAULT_CHECKPOINT)
    app.run()
    app.switch_page("pages/draw.py").run()
    assert not [c for c in app.get("plotly_chart") if c.proto.id.endswith("-draw_attr_fig")]  # nothing drawn yet
    drawing = stroke_picture(SEVEN)
    draw_on_canvas(app, drawing)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    image = canvas_to_mnist(drawing)
    answer = trace_image(shipped.model, image).prediction
    assert app.selectbox(key="draw_attr_class").value == answer
    rows, _ = bars(app, "draw_attr_fig")
    np.testing.assert_allclose(rows, occlusion(shipped.model, image, answer, "logit").rows, atol=1e-6)
    assert np.all(rows[~image.any(axis=1)] == 0.0)
