"""The step-through explorer page driven by AppTest: what the figures show follows the step and the trace."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from plotly_json import chart_by_key
from test_figures_stepthrough import stepper_views

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.evaluate import predict_proba
from lstmviz.figures.stepper import settle_step
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


def metrics(at) -> dict[str, str]:
    """The explorer's summary line: test digit, true label, the model's answer, verdict."""
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Test digit #")]
    found = re.search(
        r"#(\d+)\*\* · true label \*\*(\d+)\*\* · the model answers \*\*(\d+)\*\* \(p = ([\d.]+)\) · (.+)$", line
    )
    assert found, line
    index, label, answer, _, verdict = found.groups()
    return {"Test digit": f"#{index}", "True label": label, "Model's answer": answer, "Verdict": verdict}


def stepper(at, key: str = "exp_stepper") -> dict:
    """The data the in-browser step-through component received (the whole trace of one digit)."""
    found = [c for c in at.get("bidi_component") if c.proto.id.endswith(key)]
    assert len(found) == 1, f"no single component with key {key}"
    assert found[0].proto.component_name == "lstmviz_stepper"
    return json.loads(found[0].proto.json)


def assert_payload_is_trace(payload: dict, trace, image: np.ndarray, label: int | None, order: np.ndarray) -> None:
    """The component holds this digit's trace, every view, in the given unit order."""
    views = stepper_views(payload)
    assert payload["order"] == order.tolist() and payload["label"] == label
    assert np.allclose(views["image"], image, atol=1e-4)
    assert np.allclose(views["rows"], trace.rows, atol=1e-4)
    assert np.allclose(views["probs"], trace.probs, atol=1e-4)
    for name, values in [("h", trace.h), ("c", trace.c), *trace.gates.items()]:
        assert np.allclose(views[name], values[:, order], atol=2e-5 * max(1.0, np.abs(values).max())), name


def test_explorer_sends_the_chosen_digits_trace_once_and_opens_at_the_answer(explorer, shipped, test_split):
    at = explorer
    identity = np.arange(shipped.config.hidden_size)
    image = test_split.images[0].numpy()
    trace = trace_image(shipped.model, image)
    first = stepper(at)
    assert_payload_is_trace(first, trace, image, int(test_split.labels[0]), identity)
    assert first["start"] == trace.n_steps == 28  # opens at the last step, the answer
    settle = settle_step(trace.probs)
    assert first["settle"] == settle
    note = [m.value for m in at.markdown if m.value.startswith("Opens at")]
    expected = (
        f"Opens at the last row (step 28 of 28): the model's answer. The answer **settles at step "
        f"{settle}**: from row {settle} on, the best guess stays **{trace.prediction}**."
    )
    assert note == [expected]
    assert not at.slider  # no server-side step slider: stepping happens in the browser

    index = 17
    at.number_input(key="exp_index").set_value(index).run()
    assert not at.exception
    image = test_split.images[index].numpy()
    label = int(test_split.labels[index])
    trace = trace_image(shipped.model, image)
    shown = metrics(at)
    assert shown["Test digit"] == f"#{index}" and shown["True label"] == str(label)
    assert shown["Model's answer"] == str(trace.prediction)
    second = stepper(at)
    assert second["id"] != first["id"]
    assert_payload_is_trace(second, trace, image, label, identity)


def test_unit_order_reorders_all_unit_views(explorer, shipped, test_split):
    at = explorer
    before = stepper(at)
    at.selectbox(key="exp_order").set_value("similarity").run()
    image = test_split.images[0].numpy()
    trace = trace_image(shipped.model, image)
    order = unit_order(trace.h, "similarity")
    assert not np.array_equal(order, np.arange(len(order)))
    after = stepper(at)
    assert after["id"] == before["id"]  # same digit: the browser keeps its step
    assert_payload_is_trace(after, trace, image, int(test_split.labels[0]), order)


def test_secondary_views_sit_in_tabs_with_one_anatomy_heading(explorer):
    at = explorer
    assert [t.label for t in at.tabs] == ["Unit inspector", "Which rows mattered?", "Anatomy"]
    headings = [h.value for h in at.subheader] + [h.value for h in at.header]
    assert not [h for h in headings if "Anatomy" in h]
    anatomy = chart(at, "exp_fig_anatomy")
    assert "Anatomy" not in anatomy["layout"]["title"]["text"]
    assert chart(at, "exp_attr_fig")


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
    assert wrong.size > 0  # the shipped model (99.5 %) gets a few dozen test digits wrong
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
    import streamlit as st

    from lstmviz.model import ModelConfig, build_model
    from lstmviz.trace import trace_image
    from lstmviz.ui.stepthrough import render_stepthrough

    model = build_model(ModelConfig(hidden_size=16, embed_size=16, cell=cell), seed=0)
    image = np.random.default_rng(0).uniform(0, 1, (28, 28)).astype(np.float32)
    cell_clicked = render_stepthrough(trace_image(model, image), image, None, "t_", start=5)
    st.write(f"clicked: {cell_clicked}")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_component_works_for_every_cell_without_label_and_reports_a_clicked_cell(cell):
    from streamlit.testing.v1 import AppTest

    from lstmviz.model import GATES

    at = AppTest.from_function(stepthrough_script, args=(cell,), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    payload = stepper(at, "t_stepper")
    assert payload["start"] == 5 and payload["label"] is None and payload["n_units"] == 16
    assert [s["name"] for s in payload["states"]] == (["h", "c"] if cell == "lstm" else ["h"])
    assert [g["name"] for g in payload["gates"]] == list(GATES[cell])
    assert ("no separate cell state" in payload["captions"]["no_c"]) == (cell != "lstm")
    table = at.dataframe[0].value
    expected = ("final state (h, c)", "2 × 16") if cell == "lstm" else ("final state h", "16")
    assert (table["stage"].tolist()[4], table["shape"].tolist()[4]) == expected
    assert any(m.value == "clicked: None" for m in at.markdown)

    clicked = {"view": GATES[cell][0] if GATES[cell] else "h", "unit": 3, "step": 9}
    at.session_state["t_stepper"] = {"cell": clicked}  # what the browser sends when a heatmap cell is clicked
    at.run()
    assert not at.exception
    assert any(m.value == f"clicked: {clicked}" for m in at.markdown)
