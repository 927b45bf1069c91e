"""The truncation page driven by AppTest, on a small model: computed in the first run, then figures that follow k and
the mode."""

from __future__ import annotations

import time

import numpy as np
import pytest
from plotly_json import chart_by_key, decode
from test_truncation import varied_model

import lstmviz.truncation as tr
from lstmviz.checkpoint import save_checkpoint
from lstmviz.links import TRUNCATION_VIEWS
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.ui.common import MODEL_KEY

PAGE = "pages/truncation.py"
SHORT = {"notebook": "notebook", "early": "early readout", "occlusion": "occlusion"}


chart = chart_by_key


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def model_and_page(app, tmp_path, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(models))
    monkeypatch.setenv(tr.CACHE_ENV_VAR, str(tmp_path / "cache"))
    model = varied_model("lstm", seed=11)
    path = save_checkpoint(models / "tiny-trunc.safetensors", model, {"test_accuracy": 0.1})
    app.session_state[MODEL_KEY] = str(path)
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    return model, path, app


def wait_for_figures(at, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not at.get("plotly_chart") and time.monotonic() < deadline:
        assert not at.exception, [e.value for e in at.exception]
        time.sleep(0.3)
        at.run()
    assert at.get("plotly_chart"), "the page never finished computing"


def test_page_computes_once_then_follows_k_and_mode(model_and_page, test_split):
    model, path, at = model_and_page
    # First visit of a new model, nothing cached: the run waits for the background job (its progress bar updated
    # in place meanwhile, no reruns) and ends with the figures, the progress bar gone.
    assert at.get("plotly_chart") and not at.get("progress")
    wait_for_figures(at)
    assert not at.exception
    assert path.with_name(path.name + tr.CACHE_SUFFIX).is_file()  # stored beside the checkpoint
    expected = tr.truncation_curves(model, test_split)

    assert at.slider(key="trunc_k").value == 25 and at.radio(key="trunc_mode").value == "notebook"
    curves = chart(at, "trunc_fig_curves")
    for i, mode in enumerate(tr.MODES):
        assert np.allclose(decode(curves["data"][i]["y"]), expected.accuracy[mode])
    star = curves["data"][3]
    assert list(decode(star["x"])) == [25] and np.allclose(decode(star["y"]), [0.766])

    at.slider(key="trunc_k").set_value(9).run()
    at.radio(key="trunc_mode").set_value("early").run()
    assert not at.exception
    shown = metrics(at)
    for mode in tr.MODES:
        assert shown[f"{SHORT[mode]}, 9 rows"] == f"{expected.accuracy[mode][8]:.2%}"
    assert shown["published, 25 rows"] == "76.6%"
    # one view at a time under the curves: the open tab's chart only (the first tab until another is chosen)
    shown_charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert shown_charts == {"trunc_fig_curves", "trunc_fig_per_class"}
    assert [t.label for t in at.tabs] == list(TRUNCATION_VIEWS.values())
    per_class = chart(at, "trunc_fig_per_class")
    got = np.stack([np.asarray(decode(t["y"]), dtype=np.float64) for t in per_class["data"]], 1)  # (28, 10)
    assert np.allclose(got, expected.per_class["early"], equal_nan=True)

    at.session_state["trunc_view"] = TRUNCATION_VIEWS["confusion"]
    at.run()
    assert {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")} == {
        "trunc_fig_curves",
        "trunc_fig_confusion",
    }
    conf = chart(at, "trunc_fig_confusion")
    assert np.array_equal(np.asarray(decode(conf["data"][0]["text"])), expected.confusion("early", 9))

    at.session_state["trunc_view"] = TRUNCATION_VIEWS["seen"]
    at.run()
    strip = chart(at, "trunc_fig_strip")
    labels = test_split.labels.numpy()
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
    titles = [a["text"] for a in strip["layout"]["annotations"]]
    early9 = expected.predictions["early"][8]  # the prediction after 9 rows
    assert titles == [f"{c} → {early9[i]}" + ("" if early9[i] == c else " ✗") for c, i in enumerate(firsts)]
    z = np.asarray(decode(strip["data"][0]["z"]), dtype=np.float64)
    assert np.allclose(z[:9], test_split.images[firsts[0]].numpy()[:9]) and np.isnan(z[9:]).all()

    at.session_state["trunc_view"] = TRUNCATION_VIEWS["decision"]
    at.run()
    decision = chart(at, "trunc_fig_decision")
    counts = np.asarray(decode(decision["data"][0]["y"]))
    steps = expected.decision_step["early"]
    assert counts.sum() == 10000 and counts[-1] == (steps < 1).sum() and counts[0] == (steps == 1).sum()
    assert not at.exception


def test_second_visit_reads_the_cache(model_and_page, monkeypatch):
    model, path, at = model_and_page
    wait_for_figures(at)
    import streamlit as st

    st.cache_resource.clear()  # as after a restart: only the file remains
    calls = []
    monkeypatch.setattr(tr.cache, "truncation_curves", lambda *a, **kw: calls.append(1))
    at.run()
    wait_for_figures(at)
    assert calls == [] and not at.exception
