"""AppTest of the home page: the loaded model's figures, the links, and a missing dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstmviz.checkpoint import load_checkpoint
from lstmviz.data import ENV_VAR
from lstmviz.ui.common import MODEL_KEY

PAGES = [
    "pages/explorer.py",
    "pages/draw.py",
    "pages/truncation.py",
    "pages/state_space.py",
    "pages/neurons.py",
    "pages/cells.py",
    "pages/train.py",
]


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.title] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def test_home_shows_the_loaded_model(app, data_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(data_dir))
    at = app.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "row" in at.title[0].value.lower()
    assert "LSTM" in _texts(at)

    path = Path(at.session_state[MODEL_KEY])  # the model the sidebar selected (read now: the file may change)
    loaded = load_checkpoint(path)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{loaded.metrics['test_accuracy']:.2%}"
    assert metrics["Cell"] == loaded.config.cell.upper()
    assert metrics["Hidden units"] == str(loaded.config.hidden_size)
    assert metrics["Parameters"] == f"{loaded.model.n_params():,}"

    shown = json.loads(at.json[0].value)
    assert shown["config"] == loaded.config.to_dict()
    assert shown["metrics"]["test_accuracy"] == loaded.metrics["test_accuracy"]
    assert "history" not in shown["metrics"]

    links = {link.proto.page for link in at.get("page_link")}  # the url path of each page
    assert links >= {Path(page).stem for page in PAGES}
    assert len(at.get("plotly_chart")) == 1  # some test digits


def test_home_with_a_missing_dataset_shows_the_sample(app, tmp_path, monkeypatch):
    """No MNIST and no download: a calm note, the bundled sample's digits, no error box (issue 10.4)."""
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/mnist/"])  # fail at once, online or not
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    monkeypatch.setenv(ENV_VAR, str(empty))
    at = app.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    notes = " ".join(i.value for i in at.info)
    assert "bundled sample" in notes and ENV_VAR in notes and "--data-dir" in notes and str(empty) in notes
    # The rest of the page works: the model's figures, the links, and the sample's first digits.
    assert {m.label for m in at.metric} >= {"Test accuracy", "Cell"}
    assert len(at.main.get("page_link")) == len(PAGES)
    assert len(at.get("plotly_chart")) == 1
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("page", PAGES)
def test_linked_pages_exist(page):
    assert (Path(__file__).resolve().parent.parent / page).is_file()


def test_architecture_text_follows_the_config():
    from lstmviz.model import ModelConfig
    from lstmviz.ui.models import describe_architecture

    lstm = describe_architecture(ModelConfig())
    gru = describe_architecture(ModelConfig(cell="gru", hidden_size=64))
    assert "LSTM" in lstm and "128 units" in lstm and "Linear(128→10)" in lstm
    assert "GRU" in gru and "64 units" in gru and "Linear(64→10)" in gru and "LSTM" not in gru


@pytest.mark.parametrize("page_file", ["pages/explorer.py", "pages/draw.py"])
def test_switching_pages_keeps_app_py_sidebar(app, page_file):
    """After the home page, switching to another page runs it through app.py: the sidebar model selector stays.

    (A page opened directly, as the first request of a fresh server, is tested in a real browser:
    tests/test_browser_deeplink.py. AppTest always runs app.py first, so it cannot test that.)"""
    app.run()
    chosen = app.sidebar.selectbox(key=MODEL_KEY).value
    assert chosen.endswith(".safetensors")
    app.switch_page(page_file).run()
    assert not app.exception
    assert app.sidebar.selectbox(key=MODEL_KEY).value == chosen
