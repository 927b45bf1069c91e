"""The Train page through AppTest: a tiny run from the widgets, the new model in the sidebar, Stop, waiting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.jobs import REGISTRY
from lstmviz.registry import MODELS_ENV_VAR, read_info

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def models_dir(tmp_path, monkeypatch, data_dir):
    folder = tmp_path / "models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(folder))
    yield folder
    for job in REGISTRY.running():
        job.kill()


def _train_page(app: AppTest, name: str, epochs: int = 1) -> AppTest:
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    app.select_slider(key="train_hidden").set_value(16)
    app.select_slider(key="train_n").set_value(2000)
    app.number_input(key="train_epochs").set_value(epochs)
    app.text_input(key="train_name").set_value(name)
    return app.run()


def _poll(app: AppTest, done, timeout: float = 180.0) -> AppTest:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(0.5)
        app.run()
        assert not app.exception, app.exception
        if done(app):
            return app
    pytest.fail("the training run did not finish in time")


def test_train_from_the_page_and_use_the_new_model(app, models_dir):
    _train_page(app, "from page")
    assert "trained" not in " ".join(app.sidebar.selectbox(key="model_path").options)
    app.button(key="train_start").click().run()
    assert not app.exception
    assert app.button(key="train_start").disabled and not app.button(key="train_stop").disabled
    assert app.get("progress")

    _poll(app, lambda a: len(a.success) > 0)
    path = models_dir / "from-page.safetensors"
    assert path.exists() and "saved as from-page.safetensors" in app.success[0].value
    assert load_checkpoint(path).config.hidden_size == 16
    labels = app.sidebar.selectbox(key="model_path").options
    assert any(label.startswith("from-page (trained)") for label in labels)
    progress = app.get("progress")[0].proto
    assert progress.value == 100 and "step 16 of 16" in progress.text
    shipped_history = read_info(DEFAULT_CHECKPOINT).metrics.get("history")
    assert len(app.get("plotly_chart")) == (3 if shipped_history else 2)  # loss, accuracy (and the comparison)
    assert app.dataframe  # the comparison table

    app.button(key="train_use").click().run()
    assert app.session_state["model_path"] == str(path)
    assert app.sidebar.selectbox(key="model_path").value == str(path)
    app.switch_page("pages/home.py").run()
    assert not app.exception
    assert app.sidebar.selectbox(key="model_path").value == str(path)  # every page now uses it


def test_a_second_session_waits_and_stop_keeps_the_best(app, models_dir):
    _train_page(app, "long one", epochs=20)
    app.button(key="train_start").click().run()
    _poll(app, lambda a: "accuracy" in a.get("progress")[0].proto.text)

    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    _train_page(other, "second")
    assert any("please wait" in i.value for i in other.info)  # told before pressing Start
    other.button(key="train_start").click().run()
    assert any("please wait" in w.value and "another session" in w.value for w in other.warning)
    assert not (models_dir / "second.safetensors").exists()

    app.button(key="train_stop").click().run()
    _poll(app, lambda a: len(a.success) > 0 or len(a.warning) > 0)
    assert "best model so far" in app.success[0].value
    saved = load_checkpoint(models_dir / "long-one.safetensors")
    assert saved.metrics["stopped"] and saved.metrics["steps"] < 320
