"""Shared fixtures: the MNIST folder, small models, a fresh AppTest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lstmviz.checkpoint import save_checkpoint
from lstmviz.data import ENV_VAR, load_split, resolve_data_dir
from lstmviz.model import ModelConfig, build_model

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "mnist"

if not os.environ.get(ENV_VAR) and SHARED_MNIST.exists():
    os.environ[ENV_VAR] = str(SHARED_MNIST)

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory):
    """User models and caches go to a temp folder: tests never write into the home folder."""
    for var in ("LSTMVIZ_MODELS_DIR", "LSTMVIZ_CACHE_DIR"):
        os.environ[var] = str(tmp_path_factory.mktemp(var.lower()))
    yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = resolve_data_dir()
    if not (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists():
        pytest.fail(f"MNIST not found in {root}; set {ENV_VAR} (CI uses ../shared/mnist)")
    return root


@pytest.fixture(scope="session")
def test_split(data_dir):
    return load_split(False, data_dir)


@pytest.fixture(scope="session")
def train_split(data_dir):
    return load_split(True, data_dir)


@pytest.fixture
def tiny_model():
    """An untrained LSTM with a small hidden size (fast, deterministic)."""
    return build_model(ModelConfig(hidden_size=16, proj_size=16), seed=0)


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model) -> Path:
    return save_checkpoint(tmp_path / "tiny.safetensors", tiny_model, {"test_accuracy": 0.1})


@pytest.fixture
def app():
    """A fresh AppTest of app.py with Streamlit's caches cleared."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    yield at
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def open_page(app):
    """Open one page of the app (through app.py) with a model selected: the shipped default."""
    from lstmviz.checkpoint import DEFAULT_CHECKPOINT
    from lstmviz.ui.common import MODEL_KEY

    def _open(page: str, model: str | Path | None = None):
        app.session_state[MODEL_KEY] = str(model or DEFAULT_CHECKPOINT)
        app.run()
        app.switch_page(page).run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return _open
