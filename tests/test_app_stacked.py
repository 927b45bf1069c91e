"""Every page with a stacked model selected: a 2-layer, 64-unit LSTM (issue 13 item 5), and the layer selector
changing what the unit views show (compared with Trace.at_layer)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from plotly_json import chart_spec

from lstmviz.checkpoint import load_checkpoint, save_checkpoint
from lstmviz.figures.stepper import decode_matrix
from lstmviz.model import ModelConfig, build_model
from lstmviz.registry import MODELS_ENV_VAR
from lstmviz.statespace import balanced_sample, collect_states
from lstmviz.trace import trace_image
from lstmviz.truncation import CACHE_ENV_VAR
from lstmviz.ui.common import MODEL_KEY

PAGES = (
    "pages/home.py",
    "pages/explorer.py",
    "pages/draw.py",
    "pages/truncation.py",
    "pages/state_space.py",
    "pages/neurons.py",
    "pages/cells.py",
    "pages/lesson.py",
    "pages/train.py",
)


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    """A 2-layer, 64-unit LSTM saved as a user model (untrained: the views must not care)."""
    folder = tmp_path_factory.mktemp("models")
    model = build_model(ModelConfig(hidden_size=64, embed_size=32, num_layers=2), seed=3)
    return save_checkpoint(folder / "lstm-2x64.safetensors", model, {"test_accuracy": 0.1})


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


def stepper_data(at, prefix: str) -> dict:
    found = [el for el in at.get("bidi_component") if el.proto.id.endswith(f"{prefix}stepper")] or [
        el for el in at.get("bidi_component")
    ]
    return json.loads(found[0].proto.json_args)["data"] if hasattr(found[0].proto, "json_args") else found[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_a_stacked_model(stacked_app, page):
    at = stacked_app(page)
    assert not at.error, [e.value for e in at.error]
