"""AppTest of the sidebar's model upload with bad and hostile files (issue 15): a clear line, nothing lost."""

from __future__ import annotations

import errno
import os
import re

import hostile
import pytest

from lstmviz import registry
from lstmviz.registry import MAX_MODELS_ENV_VAR, MODELS_ENV_VAR
from lstmviz.ui.common import MODEL_KEY
from lstmviz.ui.uploads import JOB_KEY


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    folder = tmp_path / "user-models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(folder))
    return folder


def _upload(at, name: str, data: bytes):
    """Upload, then wait for the background scoring (if the file was not refused at once) and rerun."""
    at.run()
    at.file_uploader(key="sidebar_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    if JOB_KEY in at.session_state:
        at.session_state[JOB_KEY][0].wait(120)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    assert JOB_KEY not in at.session_state
    return at


def _error_text(at) -> str:
    """The one error in the sidebar, as it reads on screen (Markdown escapes removed)."""
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1, errors
    return re.sub(r"\\(.)", r"\1", errors[0])


def _still_works(at) -> None:
    assert at.sidebar.selectbox(key=MODEL_KEY).value  # the selector is still there
    assert "Traceback" not in str([e.value for e in at.sidebar.error])
    assert "/" + "lstmviz/" not in _error_text(at)  # no server paths of the code


@pytest.mark.parametrize(
    "name, make, words",
    [
        ("w27.pt", lambda: hostile.wrong_shape_pt(input_size=27), "28 pixels"),
        ("c12.pt", lambda: hostile.wrong_shape_pt(n_classes=12), "12 output classes"),
        ("c1.safetensors", lambda: hostile.wrong_shape_safetensors(n_classes=1), "1 output class;"),
        ("bomb.pt", lambda: hostile.zip_bomb_pt(64 * 2**20), "compressed"),
        ("notes.pt", lambda: b"my lecture notes\n" * 40, "not a PyTorch checkpoint"),
        ("notes.safetensors", lambda: b"my lecture notes\n" * 40, "not a safetensors checkpoint"),
        ("evil.pt", lambda: hostile.hostile_pickles("/tmp/never")["os.system in torch.save"], "code references"),
    ],
)
def test_bad_uploads_get_one_clear_line_and_the_sidebar_stays(app, models_dir, name, make, words):
    at = _upload(app, name, make())
    text = _error_text(at)
    assert words in text, text
    assert "weights_only" not in text
    _still_works(at)
    assert not models_dir.exists() or not [p for p in models_dir.iterdir() if p.suffix == ".safetensors"]


def test_recipe_text_from_an_upload_is_plain_text(app, models_dir):
    at = _upload(app, "fancy.safetensors", hostile.markdown_recipe_safetensors())
    assert at.session_state[MODEL_KEY].endswith("fancy.safetensors")
    menu = {"Explore", "Experiments", "Models"}  # app.py's menu captions come first
    captions = [c.value for c in at.sidebar.caption if c.value not in menu]
    caption = captions[0]  # the selected model's description
    assert "free A" in caption
    assert "[free A+ here](https" not in caption and "**now**" not in caption  # no live link, no bold
    assert "\\[free A\\+ here\\]\\(https\\:" in caption


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only file system")])
def test_full_or_read_only_models_folder(app, models_dir, monkeypatch, code, words):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(registry, "atomic_write_bytes", fail)
    at = _upload(app, "ok.pt", hostile.torch_bytes(hostile.tiny_state()))
    text = _error_text(at)
    assert words in text and "Nothing was saved" in text and "Errno" not in text
    _still_works(at)


def test_models_folder_cap(app, models_dir, monkeypatch):
    monkeypatch.setenv(MAX_MODELS_ENV_VAR, "1")
    at = _upload(app, "first.pt", hostile.torch_bytes(hostile.tiny_state()))
    assert not at.sidebar.error and at.session_state[MODEL_KEY].endswith("first.safetensors")
    at.file_uploader(key="sidebar_upload").set_value(
        ("second.pt", hostile.torch_bytes(hostile.tiny_state(seed=1)), "application/octet-stream")
    ).run()
    text = _error_text(at)
    assert "models folder is full" in text and MAX_MODELS_ENV_VAR in text
    assert sorted(p.name for p in models_dir.glob("*.safetensors")) == ["first.safetensors"]  # nothing deleted


def test_partial_files_are_cleaned_at_start_up(app, models_dir):
    import time

    import streamlit as st

    models_dir.mkdir(parents=True)
    old = models_dir / ".lstm.0123abcd.part.xyz123.tmp"
    fresh = models_dir / ".lstm.4567.part.abc.tmp"
    keep = models_dir / "keep.safetensors"
    for p in (old, fresh, keep):
        p.write_bytes(b"x" * 100)
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    st.cache_resource.clear()
    app.run()
    assert not old.exists()
    assert fresh.exists() and keep.exists()  # a save in progress and a checkpoint are never touched


def test_lazily_imported_modules_are_imported_at_start_up():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; import lstmviz.ui; "
        "print('pandas' in sys.modules and sys.modules['pandas'].__dict__.get('Series') is not None, "
        "'plotly.graph_objs._scatter' in sys.modules and 'plotly.graph_objs._heatmap' in sys.modules)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root)
    assert out.stdout.split() == ["True", "True"]


def test_an_upload_is_scored_in_the_background_and_selected_when_ready(app, models_dir, monkeypatch):
    """The upload callback only checks the file: the scoring on the test set runs in a thread, the
    sidebar shows its progress meanwhile, and the model is selected once it is saved."""
    import threading

    from lstmviz.checkpoint import load_checkpoint
    from lstmviz.data import load_test_or_sample
    from lstmviz.evaluate import accuracy

    release, started = threading.Event(), threading.Event()
    real_score = registry.score

    def slow_score(model, split, progress=None, chunk=1000):
        started.set()
        assert release.wait(60)
        return real_score(model, split, progress, chunk)

    monkeypatch.setattr(registry, "score", slow_score)
    at = app
    at.run()
    before = at.session_state[MODEL_KEY]
    at.file_uploader(key="sidebar_upload").set_value(
        ("mine.pt", hostile.torch_bytes(hostile.tiny_state()), "application/octet-stream")
    ).run()  # returns while the scoring waits: the callback did not score
    assert not at.exception and started.wait(30)
    job = at.session_state[JOB_KEY][0]
    assert job.status()[2] is None and at.session_state[MODEL_KEY] == before  # not selected yet
    bars = [re.sub(r"\\(.)", r"\1", p.proto.text) for p in at.sidebar.get("progress")]
    assert any("Measuring the test accuracy of mine.pt" in text for text in bars), bars
    assert not list(models_dir.glob("*.safetensors"))  # saved once scored
    release.set()
    path = job.wait(120)
    at.run()
    assert not at.exception
    assert path is not None and at.session_state[MODEL_KEY] == str(path)
    assert any("Added and selected mine" in re.sub(r"\\(.)", r"\1", s.value) for s in at.sidebar.success)
    loaded = load_checkpoint(path)
    test = load_test_or_sample()[0]
    assert loaded.metrics["n_test"] == len(test)
    assert loaded.metrics["test_accuracy"] == pytest.approx(accuracy(loaded.model, test), abs=1e-6)
