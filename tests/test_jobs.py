"""Training jobs: a real (tiny) run in a child process, Stop keeping the best model, one run at a time."""

from __future__ import annotations

import time

import pytest

from lstmviz.checkpoint import load_checkpoint, save_checkpoint
from lstmviz.evaluate import accuracy
from lstmviz.jobs import JobRegistry, JobSpec, TrainingBusyError
from lstmviz.registry import MODELS_ENV_VAR, list_models
from lstmviz.train import hold_out

TINY = dict(n_train=2000, hidden_size=16, epochs=1, eval_size=500)
LONG = dict(TINY, epochs=20, evals_per_epoch=4)  # 320 batches if never stopped; the tests stop it early


@pytest.fixture
def models_dir(tmp_path, monkeypatch, data_dir):
    folder = tmp_path / "models"
    monkeypatch.setenv(MODELS_ENV_VAR, str(folder))
    return folder


@pytest.fixture
def registry():
    reg = JobRegistry(max_concurrent=1)
    yield reg
    for job in reg.running():
        job.kill()


def _wait_for(job, condition, timeout: float = 120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        snap = job.snapshot()
        if condition(snap):
            return snap
        time.sleep(0.05)
    job.kill()
    pytest.fail(f"timed out; last state {job.snapshot().state}: {job.snapshot().message}")


def test_a_short_run_saves_a_new_checkpoint_with_metrics(models_dir, registry, test_split, train_split):
    job = registry.start("alice", JobSpec(**TINY, name="tiny run"))
    assert job.wait(180), job.snapshot().message
    snap = job.snapshot()
    assert snap.state == "finished", snap.message
    assert snap.step == snap.total == 16 and len(snap.loss_history) == 16
    assert len(snap.eval_history) >= 4  # several evaluations within the one epoch: the curve moves live
    assert [e["step"] for e in snap.eval_history] == sorted({e["step"] for e in snap.eval_history})

    path = models_dir / "tiny-run.safetensors"
    assert snap.path == str(path) and path.exists()
    loaded = load_checkpoint(path)
    m = loaded.metrics
    assert loaded.config.hidden_size == 16
    assert m["source"] == "trained" and m["recipe"]["n_train"] == 2000 and m["recipe"]["epochs"] == 1
    assert m["config"]["hidden_size"] == 16 and m["date"] and m["saved"] == "final" and not m["stopped"]
    assert m["n_test"] == len(test_split)
    assert m["test_accuracy"] == pytest.approx(accuracy(loaded.model, test_split))
    assert m["eval_accuracy"] == pytest.approx(accuracy(loaded.model, hold_out(train_split, 500)[1]))
    assert len(m["history"]) == len(snap.eval_history)

    listed = {i.path.name: i for i in list_models()}
    assert listed["tiny-run.safetensors"].kind == "trained"
    assert listed["tiny-run.safetensors"].accuracy == pytest.approx(m["test_accuracy"])


def test_stop_keeps_the_best_so_far_and_leaves_existing_files_alone(models_dir, registry, tiny_model, train_split):
    previous = save_checkpoint(models_dir / "demo.safetensors", tiny_model, {"test_accuracy": 0.1})
    before = previous.read_bytes()
    job = registry.start("alice", JobSpec(**LONG, name="demo"))
    _wait_for(job, lambda s: len(s.eval_history) >= 2)
    job.stop()
    assert job.snapshot().stop_requested
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "stopped", snap.message
    assert snap.step < snap.total
    assert previous.read_bytes() == before  # the file of the same name is byte-identical
    saved = models_dir / "demo-2.safetensors"
    assert snap.path == str(saved) and "best model so far" in snap.message
    loaded = load_checkpoint(saved)
    m = loaded.metrics
    assert m["stopped"] and m["saved"].startswith("best so far")
    best = max(m["history"], key=lambda h: h["test_accuracy"])
    assert m["eval_accuracy"] == best["test_accuracy"]
    # the weights are the best evaluated ones: re-scoring them on the same digits gives that accuracy
    assert accuracy(loaded.model, hold_out(train_split, 500)[1]) == pytest.approx(best["test_accuracy"])
    assert sorted(p.name for p in models_dir.iterdir()) == ["demo-2.safetensors", "demo.safetensors"]


def test_stop_before_any_evaluation_saves_nothing(models_dir, registry):
    job = registry.start("alice", JobSpec(**TINY, name="never"))
    job.stop()  # before the child has even loaded MNIST
    assert job.wait(120)
    snap = job.snapshot()
    assert snap.state == "stopped" and snap.path is None
    assert "nothing was saved" in snap.message
    assert not models_dir.exists() or not list(models_dir.iterdir())


def test_a_second_run_is_told_to_wait(models_dir, registry):
    first = registry.start("alice", JobSpec(**LONG, name="first"))
    _wait_for(first, lambda s: s.step > 0)
    with pytest.raises(TrainingBusyError) as err:
        registry.start("bob", JobSpec(**TINY, name="second"))
    message = str(err.value)
    assert "please wait" in message and "another session" in message
    assert "16 hidden units" in message and "step " in message  # what runs and how far it is
    assert registry.job_for("bob") is None
    assert registry.busy_message("bob") is not None
    first.stop()
    assert first.wait(120)
    assert registry.busy_message("bob") is None and registry.running() == []
    assert not (models_dir / "second.safetensors").exists()


def test_bad_values_are_refused_before_anything_starts(registry):
    for bad in (dict(epochs=0), dict(hidden_size=0), dict(lr=-1.0), dict(n_train=10), dict(preset="nope")):
        with pytest.raises(ValueError):
            registry.start("alice", JobSpec(**dict(TINY, **bad)))
    assert registry.job_for("alice") is None


def test_short_runs_evaluate_several_times_an_epoch():
    assert JobSpec(epochs=1).live_evals_per_epoch() == 10
    assert JobSpec(epochs=4).live_evals_per_epoch() == 5
    assert JobSpec(epochs=30).live_evals_per_epoch() == 1
    assert JobSpec(epochs=1, n_train=256, batch_size=128).live_evals_per_epoch() == 2  # never more than batches
    assert JobSpec(n_train=2000, epochs=3, batch_size=128).total_steps() == 48
