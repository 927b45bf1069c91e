"""Training jobs: a real (tiny) run in a child process, Stop keeping the best model, one run at a time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lstmviz.checkpoint import load_checkpoint, save_checkpoint
from lstmviz.evaluate import accuracy
from lstmviz.jobs.runs import JobRegistry, TrainingBusyError
from lstmviz.jobs.spec import JobSpec
from lstmviz.model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN
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
    best = max(m["history"], key=lambda h: h["heldout_accuracy"])
    assert m["eval_accuracy"] == best["heldout_accuracy"]
    # the weights are the best evaluated ones: re-scoring them on the same digits gives that accuracy
    assert accuracy(loaded.model, hold_out(train_split, 500)[1]) == pytest.approx(best["heldout_accuracy"])
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
    bad_values = (
        dict(epochs=0),
        dict(hidden_size=0),
        dict(hidden_size=MIN_HIDDEN - 1),
        dict(hidden_size=MAX_HIDDEN + 1),
        dict(num_layers=0),
        dict(num_layers=MAX_LAYERS + 1),
        dict(lr=-1.0),
        dict(n_train=10),
        dict(preset="nope"),
    )
    for bad in bad_values:
        with pytest.raises(ValueError):
            registry.start("alice", JobSpec(**dict(TINY, **bad)))
    assert registry.job_for("alice") is None
    for ok in (dict(hidden_size=MIN_HIDDEN), dict(hidden_size=MAX_HIDDEN), dict(num_layers=MAX_LAYERS)):
        JobSpec(**dict(TINY, **ok)).validate()


def test_a_two_layer_spec_trains_and_saves_a_two_layer_checkpoint(models_dir, registry, test_split):
    spec = JobSpec(**dict(TINY, num_layers=2, max_batches=6, evals_per_epoch=2), name="two layers")
    assert "2 layers of 16 hidden units" in spec.describe()
    job = registry.start("alice", spec)
    assert job.wait(180), job.snapshot().message
    snap = job.snapshot()
    assert snap.state == "finished", snap.message
    assert snap.step == 6 and len(snap.loss_history) == 6
    loaded = load_checkpoint(models_dir / "two-layers.safetensors")
    assert loaded.config.num_layers == 2 and loaded.config.hidden_size == 16
    assert loaded.metrics["config"]["num_layers"] == 2
    assert {"rnn.weight_hh_l0", "rnn.weight_hh_l1"} <= set(loaded.model.state_dict())
    assert loaded.metrics["test_accuracy"] == pytest.approx(accuracy(loaded.model, test_split))


def test_short_runs_evaluate_several_times_an_epoch():
    assert JobSpec(epochs=1).live_evals_per_epoch() == 10
    assert JobSpec(epochs=4).live_evals_per_epoch() == 5
    assert JobSpec(epochs=30).live_evals_per_epoch() == 1
    assert JobSpec(epochs=1, n_train=256, batch_size=128).live_evals_per_epoch() == 2  # never more than batches
    assert JobSpec(n_train=2000, epochs=3, batch_size=128).total_steps() == 48


# --- faults: a folder that cannot take the model, a killed process, a restarted server, a gone session ---


def test_a_run_that_cannot_save_keeps_its_weights_for_download_and_retry(tmp_path, data_dir, registry, test_split):
    from lstmviz.checkpoint import load_checkpoint_bytes

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    folder = blocker / "models"  # every write fails with ENOTDIR, as with a full or read-only disk
    job = registry.start("alice", JobSpec(**TINY, name="keep me", models_dir=str(folder)))
    assert job.wait(180)
    snap = job.snapshot()
    assert snap.state == "unsaved" and snap.unsaved and snap.path is None, snap.message
    assert "kept in memory" in snap.message and "Errno" not in snap.message
    name, data = job.unsaved_checkpoint()
    assert name == "keep-me.safetensors"
    held = load_checkpoint_bytes(data, name)
    assert held.metrics["test_accuracy"] == pytest.approx(accuracy(held.model, test_split))
    with pytest.raises(Exception, match="models folder"):
        job.retry_save()  # still no room: a clear error, the weights still held
    assert job.unsaved_checkpoint() is not None
    blocker.unlink()  # room again
    path = job.retry_save()
    assert path == folder / "keep-me.safetensors" and path.read_bytes() == data
    assert job.snapshot().path == str(path) and not job.snapshot().unsaved and job.unsaved_checkpoint() is None


def test_killed_right_after_its_save_the_run_reports_what_is_on_disk(models_dir, registry, monkeypatch):
    import subprocess

    real_popen = subprocess.Popen

    class DiesAfterSaving:
        """The training process, killed the moment its checkpoint is complete, before it can say so."""

        def __init__(self, *args, **kwargs):
            self._p = real_popen(*args, **kwargs)
            self.stdin, self.pid = self._p.stdin, self._p.pid
            self.stdout = self._lines()

        def _lines(self):
            try:
                for line in self._p.stdout:
                    if line.startswith('["saved"'):
                        self._p.kill()
                        return
                    yield line
            finally:
                self._p.stdout.close()

        def wait(self, timeout=None):
            return self._p.wait(timeout)

        def poll(self):
            return self._p.poll()

        def kill(self):
            self._p.kill()

    monkeypatch.setattr(subprocess, "Popen", DiesAfterSaving)
    job = registry.start("alice", JobSpec(**TINY, name="just saved"))
    assert job.wait(180)
    snap = job.snapshot()
    saved = models_dir / "just-saved.safetensors"
    assert saved.exists() and load_checkpoint(saved).metrics["run_id"] == job.run_id
    assert snap.path == str(saved), snap.message
    assert "nothing was saved" not in snap.message and "just-saved.safetensors is on disk" in snap.message
    assert "exit code -9" in snap.message


_SERVER = """
import os, sys, time
from lstmviz.jobs.runs import JobRegistry
from lstmviz.jobs.spec import JobSpec
reg = JobRegistry()
job = reg.start("alice", JobSpec(n_train=2000, hidden_size=16, epochs=20, eval_size=200, evals_per_epoch=4,
                                 name="cut short", models_dir=sys.argv[1]))
while len(job.snapshot().eval_history) < 2:
    time.sleep(0.05)
print(job.run_id, flush=True)
os._exit(0)  # the server dies mid-training
"""


def test_after_a_server_restart_the_interrupted_run_is_reported(models_dir, data_dir):
    import subprocess
    import sys

    from lstmviz.jobs.journal import dismiss_past_run, past_runs

    out = subprocess.run(
        [sys.executable, "-c", _SERVER, str(models_dir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    run_id = out.stdout.split()[-1]
    end = time.monotonic() + 120
    runs = past_runs(models_dir)
    while any(r.finishing for r in runs) and time.monotonic() < end:
        time.sleep(0.2)  # the orphaned child stops on its closed stdin and saves the best so far
        runs = past_runs(models_dir)
    assert [r.run_id for r in runs] == [run_id]
    run = runs[0]
    assert "server restarted" in run.text and "16 hidden units" in run.text
    assert run.path == str(models_dir / "cut-short.safetensors") and "cut-short.safetensors" in run.text
    assert load_checkpoint(run.path).metrics["stopped"]
    assert past_runs(models_dir, known={run_id}) == []  # a run this process knows is not "past"
    dismiss_past_run(models_dir, run_id)
    assert past_runs(models_dir) == [] and Path(run.path).exists()


def test_an_abandoned_run_stops_after_the_timeout_and_keeps_the_best(models_dir, registry):
    job = registry.start("alice", JobSpec(**LONG, name="abandoned"), alive=lambda: False, abandon_after=1.0)
    assert job.wait(180)
    snap = job.snapshot()
    assert snap.stop_requested and snap.step < snap.total
    assert snap.state == "stopped"
    assert "session that started this run had gone" in snap.message


def test_finished_jobs_are_pruned(models_dir):
    reg = JobRegistry(keep_finished=0.2)
    job = reg.start("alice", JobSpec(**TINY, name="pruned"))
    assert job.wait(180)
    time.sleep(0.3)
    assert reg.job_for("alice") is None
    assert (models_dir / "pruned.safetensors").exists()  # nothing deleted
