"""The step-through explorer page driven by AppTest: what the figures show follows the step and the trace."""

from __future__ import annotations

import numpy as np
import pytest
from plotly_json import chart_by_key, decode

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.evaluate import predict_proba
from lstmviz.ordering import unit_order
from lstmviz.trace import trace_image

PAGE = "pages/explorer.py"


@pytest.fixture(scope="module")
def shipped():
    if not DEFAULT_CHECKPOINT.exists():
        pytest.fail(f"{DEFAULT_CHECKPOINT} is missing")
    return load_checkpoint(DEFAULT_CHECKPOINT)


@pytest.fixture
def explorer(open_page):
    return open_page(PAGE)


chart = chart_by_key


def z_of(fig: dict, i: int = 0) -> np.ndarray:
    return np.asarray(decode(fig["data"][i]["z"]), dtype=np.float64)


def y_of(fig: dict, i: int = 0) -> np.ndarray:
    return np.asarray(decode(fig["data"][i]["y"]), dtype=np.float64)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def shapes_named(fig: dict, name: str) -> list[dict]:
    return [sh for sh in fig["layout"].get("shapes", []) if sh.get("name") == name]


def assert_views_match(at, trace, image: np.ndarray, k: int, order: np.ndarray) -> None:
    """Every step-dependent view shows the trace's values up to step k and nothing after."""
    assert at.slider(key="exp_step").value == k
    reading = chart(at, "exp_fig_reading")
    assert np.allclose(z_of(reading), image, atol=1e-6)
    assert np.allclose(y_of(reading, len(reading["data"]) - 1), trace.probs[k - 1] if k else 0.0, atol=1e-5)
    assert [sh["y0"] for sh in shapes_named(reading, "current row")] == ([] if k == 0 else [k - 1.5])
    assert [sh["y0"] for sh in shapes_named(reading, "unread rows")] == ([] if k == 28 else [k - 0.5])
    assert reading["layout"]["sliders"][0]["active"] == k
    assert len(reading["frames"]) == trace.n_steps + 1
    for name, values in (("h", trace.h), ("c", trace.c)):
        z = z_of(chart(at, f"exp_fig_{name}"))  # (H, T)
        assert np.allclose(z[:, :k], values[:k, order].T, atol=1e-5)
        assert np.isnan(z[:, k:]).all()
    gates = chart(at, "exp_fig_gates")
    assert [t["name"] for t in gates["data"]] == list(trace.gate_names)
    for i, name in enumerate(trace.gate_names):
        assert np.allclose(z_of(gates, i)[:, :k], trace.gates[name][:k, order].T, atol=1e-5)
    bars = chart(at, "exp_fig_state_bars")
    assert np.allclose(y_of(bars, 0), trace.h[k - 1, order] if k else 0.0, atol=1e-5)
    assert np.allclose(y_of(bars, 1), trace.c[k - 1, order] if k else 0.0, atol=1e-5)
    row = y_of(chart(at, "exp_fig_row"))
    assert np.allclose(row, image[k - 1] if k else 0.0, atol=1e-6)


def test_main_figure_frames_replay_the_trace(explorer, shipped, test_split):
    at = explorer
    trace = trace_image(shipped.model, test_split.images[0].numpy())
    reading = chart(at, "exp_fig_reading")
    bar = len(reading["data"]) - 1
    for j in (0, 3, 28):
        frame = reading["frames"][j]
        assert frame["name"] == str(j) and frame["traces"] == [bar]
        assert np.allclose(decode(frame["data"][0]["y"]), trace.probs[j - 1] if j else 0.0, atol=1e-5)
    lines = [np.asarray(decode(t["y"]), dtype=np.float64) for t in reading["data"][1:bar]]
    assert np.allclose(np.stack(lines, axis=1), trace.probs, atol=1e-5)


def test_step_slider_and_buttons_drive_every_view(explorer, shipped, test_split):
    at = explorer
    index = 17
    at.number_input(key="exp_index").set_value(index).run()
    image = test_split.images[index].numpy()
    label = int(test_split.labels[index])
    trace = trace_image(shipped.model, image)
    shown = metrics(at)
    assert shown["Test digit"] == f"#{index}" and shown["True label"] == str(label)
    assert shown["Model's answer"] == str(trace.prediction)
    identity = np.arange(trace.h.shape[1])

    at.slider(key="exp_step").set_value(5).run()
    assert_views_match(at, trace, image, 5, identity)
    before = z_of(chart(at, "exp_fig_h"))

    at.button(key="exp_next").click().run()
    assert_views_match(at, trace, image, 6, identity)
    after = z_of(chart(at, "exp_fig_h"))
    assert np.isnan(before[:, 5]).all() and not np.isnan(after[:, 5]).any()  # one more column appeared

    at.button(key="exp_prev").click().run()
    at.button(key="exp_prev").click().run()
    assert_views_match(at, trace, image, 4, identity)

    at.slider(key="exp_step").set_value(0).run()
    at.button(key="exp_prev").click().run()  # cannot go before the first row
    assert_views_match(at, trace, image, 0, identity)


def test_unit_order_reorders_all_unit_views(explorer, shipped, test_split):
    at = explorer
    at.slider(key="exp_step").set_value(12).run()
    at.selectbox(key="exp_order").set_value("similarity").run()
    image = test_split.images[0].numpy()
    trace = trace_image(shipped.model, image)
    order = unit_order(trace.h, "similarity")
    assert not np.array_equal(order, np.arange(len(order)))
    assert_views_match(at, trace, image, 12, order)


def test_pick_by_class_and_among_mistakes(explorer, shipped, test_split):
    at = explorer
    labels = test_split.labels.numpy()
    at.radio(key="exp_mode").set_value("class").run()
    at.selectbox(key="exp_class").set_value(4).run()
    at.number_input(key="exp_class_item").set_value(3).run()
    assert not at.exception
    expected = int(np.flatnonzero(labels == 4)[2])
    assert metrics(at)["Test digit"] == f"#{expected}" and metrics(at)["True label"] == "4"

    at.radio(key="exp_mode").set_value("wrong").run()
    assert not at.exception
    preds = predict_proba(shipped.model, test_split.images).argmax(-1)
    wrong = np.flatnonzero(preds != labels)
    if wrong.size == 0:
        assert at.success
        return
    options = at.selectbox(key="exp_wrong").options
    assert len(options) == wrong.size
    chosen = int(at.selectbox(key="exp_wrong").value)
    assert chosen in wrong
    shown = metrics(at)
    assert shown["True label"] == str(labels[chosen]) and shown["Model's answer"] == str(preds[chosen])
    assert shown["True label"] != shown["Model's answer"] and "wrong" in shown["Verdict"]


def test_random_pick_shows_a_consistent_digit(explorer, test_split):
    at = explorer
    at.radio(key="exp_mode").set_value("random").run()
    at.button(key="exp_random_btn").click().run()
    assert not at.exception
    index = int(metrics(at)["Test digit"].lstrip("#"))
    assert index == at.session_state["exp_random"]
    assert metrics(at)["True label"] == str(int(test_split.labels[index]))


def stepthrough_script(cell: str) -> None:
    """The component alone, as the draw page uses it: a drawn image, no label, a small model of any cell."""
    import numpy as np

    from lstmviz.model import ModelConfig, build_model
    from lstmviz.trace import trace_image
    from lstmviz.ui.stepthrough import render_stepthrough

    model = build_model(ModelConfig(hidden_size=16, proj_size=16, cell=cell), seed=0)
    image = np.random.default_rng(0).uniform(0, 1, (28, 28)).astype(np.float32)
    render_stepthrough(trace_image(model, image), image, None, "t_")


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_component_works_without_cell_state_and_without_label(cell):
    from streamlit.testing.v1 import AppTest

    from lstmviz.model import GATES

    at = AppTest.from_function(stepthrough_script, args=(cell,), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    keys = [el.proto.id.rsplit("-", 1)[-1] for el in at.get("plotly_chart")]
    assert "t_fig_c" not in keys and "t_fig_h" in keys
    assert any("no separate cell state" in i.value for i in at.info)
    assert len(chart(at, "t_fig_gates")["data"]) == len(GATES[cell])
    assert [t["name"] for t in chart(at, "t_fig_state_bars")["data"]] == ["h"]
    table = at.dataframe[0].value
    assert table["shape"].tolist()[4] == "16" and table["stage"].tolist()[4] == "final state h"
    at.button(key="t_next").click().run()
    assert at.slider(key="t_step").value == 15 and not at.exception
