"""The warm-up thread (lstmviz/ui/warmup.py): what it loads is what the pages then find in their caches."""

from __future__ import annotations

import pytest
import streamlit as st

from lstmviz.checkpoint import DEFAULT_CHECKPOINT
from lstmviz.precompute import COMPUTATIONS, Computation
from lstmviz.ui import warmup
from lstmviz.ui.cache import model_result
from lstmviz.ui.common import cached_trace, load_model_file, try_split
from lstmviz.ui.neurons import DEFAULT_SIZE


@pytest.fixture
def clean_caches(data_dir):
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _boom(*args, **kwargs):
    raise AssertionError("computed again: the warm-up did not fill this cache")


def test_warm_up_fills_the_caches_the_pages_use(clean_caches, monkeypatch):
    done: list[str] = []
    warmup._warm(str(DEFAULT_CHECKPOINT), done)
    assert [d.split()[0] for d in done[:4]] == ["ids", "truncation", "trace", "states"]
    assert len(done) == 4 + len(warmup.MODULES)

    loaded, (test, _) = load_model_file(DEFAULT_CHECKPOINT), try_split(train=False)
    monkeypatch.setitem(COMPUTATIONS, "states", Computation("never", _boom))
    idx, states = model_result("states", loaded, test, DEFAULT_SIZE)  # served from the cache
    assert states.h.shape == (len(idx), 28, loaded.config.hidden_size)
    monkeypatch.setattr("lstmviz.trace.trace_image", _boom)
    assert cached_trace(loaded, test.images[0].numpy()).h.shape == (28, loaded.config.hidden_size)


def test_a_failing_warm_up_is_noted_not_raised(clean_caches, tmp_path, monkeypatch):
    done: list[str] = []
    warmup._run(str(tmp_path / "missing.safetensors"), done)  # no model: stops, quietly
    assert len(done) == 1 and done[0].startswith("stopped (CheckpointError")

    done.clear()
    monkeypatch.setattr("lstmviz.trace.trace_image", _boom)  # one step fails: the others still run
    warmup._run(str(DEFAULT_CHECKPOINT), done)
    assert [d.split()[:2] for d in done[:4]][2] == ["trace", "failed"]
    assert done[3].startswith("states ") and len(done) == 4 + len(warmup.MODULES)


def test_off_with_the_environment_variable(monkeypatch):
    monkeypatch.setenv("LSTMVIZ_WARMUP", "0")
    assert not warmup.enabled() and warmup.warm_up() is None


def test_not_started_under_apptest(app, monkeypatch):
    """AppTest runs never start the warm-up: a thread per test (each clears the caches) would outlive the
    tests, computing in torch while the interpreter exits."""
    started = []
    monkeypatch.setattr(warmup, "_start", lambda checkpoint: started.append(checkpoint) or (None, []))
    monkeypatch.delenv("LSTMVIZ_WARMUP", raising=False)
    app.run()
    assert not app.exception
    assert started == []
