"""The Train page through AppTest: a tiny run from the widgets, the new model in the sidebar, Stop, waiting."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lstmviz.checkpoint import load_checkpoint
from lstmviz.jobs.runs import REGISTRY
from lstmviz.model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS
from lstmviz.registry import MODELS_ENV_VAR

ROOT = Path(__file__).resolve().parent.parent


def _plain(markdown: str) -> str:
    """Text as it reads on screen: the page escapes Markdown characters in file names and messages."""
    return re.sub(r"\\(.)", r"\1", markdown)


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
    assert path.exists() and "saved as from-page.safetensors" in _plain(app.success[0].value)
    assert load_checkpoint(path).config.hidden_size == 16
    labels = app.sidebar.selectbox(key="model_path").options
    assert any(label.startswith("from-page (trained)") for label in labels)
    progress = app.get("progress")[0].proto
    assert progress.value == 100 and "step 16 of 16" in progress.text
    assert len(app.get("plotly_chart")) == 3  # loss, accuracy, the comparison (shipped model as a reference line)
    assert app.dataframe  # the comparison table

    app.button(key="train_use").click().run()
    assert app.session_state["model_path"] == str(path)
    assert app.sidebar.selectbox(key="model_path").value == str(path)
    app.switch_page("pages/home.py").run()
    assert not app.exception
    assert app.sidebar.selectbox(key="model_path").value == str(path)  # every page now uses it


def test_the_layer_count_from_the_page_reaches_the_checkpoint(app, models_dir):
    _train_page(app, "two layers")
    assert app.selectbox(key="train_layers").options == [str(n) for n in range(MIN_LAYERS, MAX_LAYERS + 1)]
    hidden = [int(h) for h in app.select_slider(key="train_hidden").options]
    assert min(hidden) >= MIN_HIDDEN and max(hidden) == MAX_HIDDEN
    app.selectbox(key="train_layers").set_value(2).run()
    app.button(key="train_start").click().run()
    assert not app.exception
    _poll(app, lambda a: len(a.success) > 0)
    loaded = load_checkpoint(models_dir / "two-layers.safetensors")
    assert loaded.config.num_layers == 2 and loaded.config.hidden_size == 16
    assert loaded.metrics["config"]["num_layers"] == 2 and loaded.metrics["steps"] == 16


def test_a_second_session_waits_and_stop_keeps_the_best(app, models_dir):
    _train_page(app, "long one", epochs=20)
    app.button(key="train_start").click().run()
    _poll(app, lambda a: "accuracy" in a.get("progress")[0].proto.text)

    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    _train_page(other, "second")
    assert any("please wait" in _plain(i.value) for i in other.info)  # told before pressing Start
    other.button(key="train_start").click().run()
    assert any("please wait" in _plain(w.value) and "another session" in _plain(w.value) for w in other.warning)
    assert not (models_dir / "second.safetensors").exists()

    app.button(key="train_stop").click().run()
    _poll(app, lambda a: len(a.success) > 0 or len(a.warning) > 0)
    assert "best model so far" in _plain(app.success[0].value)
    saved = load_checkpoint(models_dir / "long-one.safetensors")
    assert saved.metrics["stopped"] and saved.metrics["steps"] < 320


# --- issue 15 / 16.6: no training data, a folder that cannot take the model, a restart mid-run ------


def test_without_training_data_start_is_not_offered(app, tmp_path, monkeypatch):
    from lstmviz.data import ENV_VAR

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-mnist-here"))
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "models"))
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert app.button(key="train_start").disabled
    assert any("training set" in _plain(i.value) and "LSTMVIZ_DATA_DIR" in _plain(i.value) for i in app.info)
    assert not app.error and not app.get("plotly_chart") and not app.get("progress")


def test_a_duration_estimate_is_shown_before_start(app, models_dir):
    _train_page(app, "estimate")
    captions = " ".join(_plain(c.value) for c in app.caption)
    assert re.search(r"Rough estimate: about \d+ (s|min)", captions), captions
    app.number_input(key="train_epochs").set_value(3).run()
    later = " ".join(_plain(c.value) for c in app.caption)
    assert re.search(r"Rough estimate: about \d+", later) and later != captions  # it follows the settings


def test_a_run_that_cannot_save_offers_download_and_retry(app, tmp_path, monkeypatch, data_dir):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    folder = blocker / "models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(folder))
    _train_page(app, "no room")
    app.button(key="train_start").click().run()
    _poll(app, lambda a: len(a.warning) > 0 and "kept in memory" in _plain(a.warning[0].value))
    assert "Errno" not in app.warning[0].value
    assert app.get("download_button")  # the trained weights can be downloaded
    assert len(app.get("plotly_chart")) == 2  # the curves of the run stay on screen
    app.button(key="train_retry_save").click().run()
    assert "models folder" in _plain(app.error[0].value)  # still no room: said clearly, weights still held
    blocker.unlink()
    app.button(key="train_retry_save").click().run()
    assert not app.exception
    saved = folder / "no-room.safetensors"
    assert saved.exists() and app.session_state["model_path"] == str(saved)
    assert load_checkpoint(saved).config.hidden_size == 16


def test_after_a_restart_the_page_says_what_happened_to_the_run(app, models_dir, tiny_model):
    import json

    from lstmviz.checkpoint import save_checkpoint
    from lstmviz.jobs.journal import journal_path

    models_dir.mkdir(parents=True)
    kept = save_checkpoint(
        models_dir / "class-demo.safetensors",
        tiny_model,
        {"run_id": "r1", "source": "trained", "recipe": {"preset": "default"}},
    )
    journal_path(models_dir, "r1").write_text(
        json.dumps(
            {
                "run_id": "r1",
                "state": "running",
                "pid": 2**22 + 12345,
                "started_at": time.time() - 60,
                "description": "LSTM with 16 hidden units, default preset, 5 epochs on 2,000 images",
            }
        )
    )
    journal_path(models_dir, "r2").write_text(
        json.dumps(
            {
                "run_id": "r2",
                "state": "running",
                "pid": 2**22 + 12346,
                "started_at": time.time() - 30,
                "description": "GRU with 64 hidden units, default preset, 1 epoch on 60,000 images",
            }
        )
    )
    app.run()
    app.switch_page("pages/train.py").run()
    texts = [_plain(i.value) for i in app.info]
    first = next(t for t in texts if "5 epochs" in t)
    second = next(t for t in texts if "GRU" in t)
    assert "server restarted" in first and "class-demo.safetensors" in first
    assert "server restarted" in second and "before saving anything" in second
    app.button(key="train_past_use_r1").click().run()
    assert app.session_state["model_path"] == str(kept)
    app.button(key="train_past_dismiss_r2").click().run()
    assert not any("GRU" in _plain(i.value) for i in app.info)
    assert kept.exists()  # dismissing forgets the note, never a model
