"""The guided lesson: every chapter renders under AppTest, and every number it quotes is the library's
value for the selected model and digit (two different models)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmviz import lesson
from lstmviz.checkpoint import load_checkpoint
from lstmviz.figures.stepper import settle_step
from lstmviz.trace import trace_image
from lstmviz.ui.common import MODEL_KEY

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["lstm.safetensors", "lstm-noaug.safetensors"]
DIGIT = 3  # a test digit other than the page's default
CONSTANTS = {"0", "1", "0.9"}  # written in the text as definitions (f ≈ 1 keeps, above 0.9), not results
NUMBER = re.compile(r"(?<![\w#])-?\d+(?:\.\d+)?%?")


@pytest.fixture(scope="module")
def rnn():
    return load_checkpoint(ROOT / "models" / "rnn.safetensors").model


_EXPECTED: dict[str, list[lesson.Chapter]] = {}


def expected_lesson(model_file: str, test_split, rnn) -> list[lesson.Chapter]:
    if model_file not in _EXPECTED:
        _EXPECTED[model_file] = _expected_lesson(model_file, test_split, rnn)
    return _EXPECTED[model_file]


def _expected_lesson(model_file: str, test_split, rnn) -> list[lesson.Chapter]:
    loaded = load_checkpoint(ROOT / "models" / model_file)
    image = test_split.images[DIGIT].numpy()
    trace = trace_image(loaded.model, image)
    d = lesson.dataset_facts(loaded.model, test_split.images, test_split.labels, rnn)
    s = lesson.digit_facts(trace, image, int(test_split.labels[DIGIT]))
    # a few of the facts, computed here another way
    assert s["settle"] == settle_step(trace.probs) and s["p_final"] == pytest.approx(trace.probs[-1].max())
    x = torch.zeros_like(test_split.images)  # the notebook's cut by hand: the first 25 rows, at the end
    x[:, 3:] = test_split.images[:, :25]
    with torch.no_grad():
        acc = float((loaded.model(x).argmax(-1) == test_split.labels).float().mean())
    assert d["acc_notebook"] == pytest.approx(acc, abs=1e-4) and d["k_notebook"] == 25
    assert d["acc_published"] == pytest.approx(0.766)
    if s["forget_level"] is not None:
        assert s["forget_level"] == pytest.approx(float(np.median(trace.gates["forget"][s["first_ink"] - 1 :])))
    return lesson.chapters(d, s, DIGIT)


@pytest.mark.parametrize("model_file", MODELS)
def test_every_chapter_renders_with_the_library_numbers(app, model_file, test_split, rnn):
    chapters = expected_lesson(model_file, test_split, rnn)
    assert len(chapters) == lesson.N_CHAPTERS == 12
    app.session_state[MODEL_KEY] = str(ROOT / "models" / model_file)
    app.session_state["lesson_digit"] = DIGIT
    app.switch_page("pages/lesson.py").run()
    assert not app.exception, [e.value for e in app.exception]
    seen_figures = set()
    for i, chapter in enumerate(chapters, start=1):
        if i > 1:
            app.button(key="lesson_next").click().run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.session_state["lesson_step"] == i
        assert app.subheader[0].value == f"{i}. {chapter.title}"
        texts = [m.value for m in app.markdown]
        assert chapter.text in texts  # the page quotes exactly the library's numbers
        quoted = set(NUMBER.findall(chapter.text))
        allowed = {n for v in chapter.numbers.values() for n in NUMBER.findall(v)} | CONSTANTS
        assert quoted <= allowed, f"chapter {i} quotes numbers not computed: {quoted - allowed}"
        charts = app.get("plotly_chart")
        if chapter.figure == "draw":
            assert app.get("page_link")
        else:
            assert charts, f"chapter {i} shows no figure"
            seen_figures.add(chapter.figure)
        (bar,) = app.get("progress")
        assert bar.proto.value == int(100 * i / 12)
    assert app.button(key="lesson_next").disabled
    app.button(key="lesson_back").click().run()
    assert app.session_state["lesson_step"] == 11
    app.selectbox(key="lesson_step").set_value(5).run()  # jump to a chapter
    assert app.subheader[0].value == f"5. {chapters[4].title}"
    assert {"rows", "input_row", "h", "gates", "probs", "truncation", "rnn"} <= seen_figures


def test_two_models_tell_different_numbers(test_split, rnn):
    a, b = (expected_lesson(m, test_split, rnn) for m in MODELS)
    assert [c.title for c in a] == [c.title for c in b]
    assert [c.text for c in a] != [c.text for c in b]
