"""Links that reopen a view, under AppTest: state -> URL -> a fresh app opened with that URL -> same state;
bad values ignored with a note; `?hide=` removes pages from the navigation and the model upload."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lstmviz import links
from lstmviz.checkpoint import save_checkpoint
from lstmviz.ui.common import MODEL_KEY

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / "lstm-noaug.safetensors"

# page -> a state that differs from the page's defaults (None for the model: the tiny user model)
CASES = {
    "home": {},
    "explorer": {"exp_mode": "index", "exp_index": 42, "exp_order": "change"},
    "draw": {"draw_stroke": 30, "draw_order": "final"},
    "truncation": {"trunc_mode": "early", "trunc_k": 20, "trunc_view": "Confusion"},
    "state_space": {"space_n": 200, "space_dims": "3-D", "space_tail": 5, "space_index": 7},
    "neurons": {"neuron_n": 500, "neuron_sign": "lowest", "neuron_index": 3, "neuron_unit": 11},
    "train": {"train_epochs": 3, "train_hidden": 64, "train_seed": 5},
    "lesson": {"lesson_step": 4, "lesson_digit": 9},
}


def fresh_app() -> AppTest:
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


@pytest.fixture(scope="module")
def tiny_user_model(data_dir) -> Path:
    """A small model in the user models folder, so that `?model=` names a non-default model."""
    from lstmviz.model import ModelConfig, build_model

    folder = Path(os.environ["LSTMVIZ_MODELS_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(
        folder / "links-tiny.safetensors",
        build_model(ModelConfig(hidden_size=16, embed_size=16), seed=0),
        {"test_accuracy": 0.1},
    )


def open_with_state(page: str, model: Path, state: dict) -> AppTest:
    at = fresh_app()
    at.session_state[MODEL_KEY] = str(model)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.run()  # a second run, as after any interaction
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_link(page: str, query: dict) -> AppTest:
    at = fresh_app()
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", list(CASES))
def test_link_round_trip(page, tiny_user_model):
    model = SHIPPED if page == "explorer" else tiny_user_model
    first = open_with_state(page, model, CASES[page])
    query = {k: first.query_params[k] for k in first.query_params}
    query = {k: v[0] if isinstance(v, list) else v for k, v in query.items()}
    assert query.get("model") == model.name
    (box,) = [c.value for c in first.code if c.value.startswith("/") or "://" in c.value]
    assert f"model={model.name}" in box
    for key, value in CASES[page].items():
        assert first.session_state[key] == value  # the state we set is what the URL must carry
    second = open_link(page, query)
    assert Path(second.session_state[MODEL_KEY]).name == model.name
    for key, value in CASES[page].items():
        assert second.session_state[key] == value, key
    assert not second.toast  # nothing was ignored


def test_explorer_link_opens_digit_and_step():
    at = open_link("explorer", {"digit": "42", "step": "17"})
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Test digit #")]
    assert line.startswith("**Test digit #42**")
    import json

    (comp,) = [c for c in at.get("bidi_component") if c.proto.id.endswith("exp_stepper")]
    payload = json.loads(comp.proto.json)
    assert payload["start"] == 17 and payload["url_step"] == "step"
    # another digit opens at its answer again (the link's step belonged to digit 42)
    at.session_state["exp_index"] = 43
    at.run()
    (comp,) = [c for c in at.get("bidi_component") if c.proto.id.endswith("exp_stepper")]
    assert json.loads(comp.proto.json)["start"] == 28


def test_bad_values_are_ignored_with_a_note():
    at = open_link("explorer", {"digit": "99999", "step": "x", "mode": "sideways", "model": "nope.safetensors"})
    notes = " ".join(t.value for t in at.toast)
    for name in ("digit=99999", "step=x", "mode=sideways", "model=nope"):
        assert name in notes
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Test digit #")]
    assert line.startswith("**Test digit #0**")  # the page's default


def test_hide_removes_pages_and_upload_for_the_session():
    at = open_link("explorer", {"hide": "train,cells,upload"})
    urls = _nav_urls(at)
    assert "train" not in urls and "cells" not in urls and "explorer" in urls and "truncation" in urls
    assert not [e for e in at.sidebar.expander if e.label == "Upload a model"]
    at.query_params.clear()  # the hide setting sticks for the session, without the parameter
    at.run()
    urls = _nav_urls(at)
    assert "train" not in urls and not [e for e in at.sidebar.expander if e.label == "Upload a model"]
    plain = open_link("explorer", {})
    assert "train" in _nav_urls(plain) and [e for e in plain.sidebar.expander if e.label == "Upload a model"]


def _nav_urls(at: AppTest) -> list[str]:
    """The url paths of the pages the script registered with st.navigation (what the menu lists)."""
    return [p["url_pathname"] for p in at._registered_pages.values()]


# ---------------------------------------------------------------- the drawn digit in the draw page's link


def _query_of(at: AppTest) -> dict[str, str]:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in ((k, at.query_params[k]) for k in at.query_params)}


def _draw_metric(at: AppTest) -> str:
    (metric,) = [m for m in at.metric if m.label == "The model reads"]
    return metric.value


def _draw_input(at: AppTest) -> np.ndarray:
    from plotly_json import chart_by_key, decode

    return np.asarray(decode(chart_by_key(at, "draw_preview")["data"][0]["z"]), np.float32).reshape(28, 28)


def test_drawn_digit_round_trip_through_the_link():
    """drawing -> URL -> a fresh app opened with that URL -> the same 28x28 input (within the 16 levels),
    the same prediction, the link's note; drawing over it replaces it, Clear empties both."""
    from test_app_draw import SEVEN, draw_on_canvas, stroke_picture

    from lstmviz.preprocess import canvas_to_mnist

    first = fresh_app()
    first.run()
    first.switch_page("pages/draw.py").run()
    draw_on_canvas(first, stroke_picture(SEVEN))
    first.run()
    assert not first.exception
    query = _query_of(first)
    drawn = query["drawn"]
    assert 50 < len(drawn) < 400  # a few hundred characters
    expected = canvas_to_mnist(stroke_picture(SEVEN))
    assert np.abs(links.decode_drawing(drawn) - expected).max() <= 0.5 / 15 + 1e-6
    (box,) = [c.value for c in first.code if "drawn=" in c.value]
    assert f"drawn={drawn}" in box
    guess = _draw_metric(first)

    second = open_link("draw", query)
    assert _draw_metric(second) == guess
    shown = _draw_input(second)
    assert np.abs(shown - expected).max() <= 0.5 / 15 + 1e-6
    assert any("came with the link" in i.value for i in second.info)
    assert not second.toast
    assert _query_of(second)["drawn"] == drawn  # the restored view's own link is the same

    draw_on_canvas(second, stroke_picture([(140, 40), (140, 250)]))  # a "1" drawn over it replaces it
    second.run()
    assert _query_of(second)["drawn"] != drawn
    assert not any("came with the link" in i.value for i in second.info)
    second.button(key="draw_clear").click().run()
    assert "drawn" not in _query_of(second) and not second.metric
    assert any("Draw a digit on the black canvas" in i.value for i in second.info)


@pytest.mark.parametrize(
    "value",
    ["xyz", "1.!!!!", "1." + "A" * 800, "2.eNpjYBgFo2AUjAIAAAr4AAE", "1.eNpjYBgFo2AUjAIAAAr4AAE"[:-6]],
)
def test_bad_drawn_values_are_ignored_with_a_note(value):
    at = open_link("draw", {"drawn": value})
    assert "drawn=" in " ".join(t.value for t in at.toast)
    assert any("Draw a digit on the black canvas" in i.value for i in at.info)
    assert not at.metric and "drawn" not in _query_of(at)
