"""Training: it learns, it repeats itself under a seed, it stops when asked; recipes; augmentation; CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmviz.augment import AugmentConfig, augment_batch
from lstmviz.checkpoint import load_checkpoint, save_checkpoint, weights_hash
from lstmviz.data import ENV_VAR
from lstmviz.model import ModelConfig
from lstmviz.train import PRESETS, Progress, Recipe, make_recipe, train

ROOT = Path(__file__).resolve().parent.parent
TINY = ModelConfig(hidden_size=16, embed_size=16)


def _recipe(**kw) -> Recipe:
    """A small, fast recipe: constant LR, no augmentation, 2,000 images."""
    base = dict(epochs=1, batch_size=50, lr=1e-2, schedule="constant", augment=None, n_train=2000, seed=0)
    return make_recipe("default", **{**base, **kw})


def test_a_few_batches_reduce_the_loss(train_split):
    losses: list[float] = []
    result = train(train_split, None, _recipe(), TINY, on_progress=lambda p: losses.append(p.loss), max_batches=40)
    assert len(losses) == 40 and result.metrics["steps"] == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3
    assert not result.stopped
    assert result.metrics["test_accuracy"] is None and result.history == []  # no test split: no evaluation
    assert not result.model.training


def test_same_seed_same_weights(train_split):
    recipe = _recipe(augment=AugmentConfig(), schedule="onecycle", clip_norm=1.0, label_smoothing=0.05)
    a = train(train_split, None, recipe, TINY, max_batches=6)
    torch.manual_seed(1234)  # the global RNG state before the call must not matter
    b = train(train_split, None, recipe, TINY, max_batches=6)
    c = train(train_split, None, replace(recipe, seed=1), TINY, max_batches=6)
    assert weights_hash(a.model) == weights_hash(b.model)
    assert a.metrics["final_loss"] == b.metrics["final_loss"]
    assert weights_hash(c.model) != weights_hash(a.model)


def test_stop_event_ends_the_run_early(train_split, test_split):
    stop = threading.Event()
    seen: list[Progress] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        if p.kind == "batch" and p.step == 3:
            stop.set()

    result = train(train_split, test_split.subset(500), _recipe(), TINY, on_progress=on_progress, stop=stop)
    assert result.stopped and result.metrics["stopped"]
    assert result.metrics["steps"] == 3
    assert [p.step for p in seen if p.kind == "batch"] == [1, 2, 3]
    assert seen[0].total_steps == 40  # the planned run was 2000 / 50 batches
    assert result.metrics["test_accuracy"] is None  # the final model was never evaluated
    # A stop set before the start trains nothing.
    stop2 = threading.Event()
    stop2.set()
    assert train(train_split, None, _recipe(), TINY, stop=stop2).metrics["steps"] == 0


def test_max_batches_and_evaluation(train_split, test_split):
    from lstmviz.evaluate import accuracy

    events: list[Progress] = []
    small_test = test_split.subset(500)
    result = train(
        train_split, small_test, _recipe(), TINY, on_progress=events.append, max_batches=12, evals_per_epoch=4
    )
    assert result.metrics["steps"] == 12 and not result.stopped
    batches = [p for p in events if p.kind == "batch"]
    assert [p.step for p in batches] == list(range(1, 13))
    assert all(p.total_steps == 12 for p in batches)
    assert batches[-1].eta == 0.0 and batches[0].eta > 0.0
    # 40 batches an epoch, 4 evaluations an epoch: at step 10, then at the end of the capped run.
    evals = [p for p in events if p.kind == "eval"]
    assert [h["step"] for h in result.history] == [p.step for p in evals] == [10, 12]
    assert [p.test_accuracy for p in evals] == [h["test_accuracy"] for h in result.history]
    assert result.metrics["test_accuracy"] == result.history[-1]["test_accuracy"] == accuracy(result.model, small_test)
    assert result.metrics["best_test_accuracy"] == max(h["test_accuracy"] for h in result.history)
    assert accuracy(result.best_model, small_test) == result.metrics["best_test_accuracy"]
    assert result.metrics["epochs"] == round(12 / 40, 4)
    assert result.metrics["recipe"]["n_train"] == 2000 and result.metrics["seed"] == 0


def test_notebook_preset_is_the_notebook_recipe():
    nb = PRESETS["notebook"]
    assert make_recipe("notebook") == nb
    assert (nb.preset, nb.lr, nb.batch_size, nb.epochs, nb.n_train) == ("notebook", 1e-3, 128, 5, 55_000)
    assert nb.augment is None and nb.schedule == "constant" and nb.init == "notebook"
    assert nb.weight_decay == 0.0 and nb.clip_norm is None and nb.label_smoothing == 0.0 and nb.ema_decay is None
    assert PRESETS["default"].init == "torch"
    with pytest.raises(ValueError, match="preset"):
        make_recipe("fast")
    assert make_recipe("notebook", epochs=2, lr=None).epochs == 2  # None overrides are ignored
    assert make_recipe("notebook", lr=None).lr == 1e-3


def test_notebook_preset_uses_adam_and_notebook_init(train_split, monkeypatch):
    import lstmviz.train as train_mod

    made = []
    real = train_mod._make_optimizer

    def spy(model, recipe):
        made.append(real(model, recipe))
        return made[-1]

    monkeypatch.setattr(train_mod, "_make_optimizer", spy)
    result = train(train_split, None, make_recipe("notebook"), TINY, max_batches=0)
    opt = made[0]
    assert type(opt) is torch.optim.Adam
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["weight_decay"] == 0.0
    model = result.model  # untrained: the notebook's initial weights
    assert abs(float(model.proj.weight.detach().std()) - 1.0) < 0.2
    assert torch.all(model.proj.bias == 0) and torch.all(model.head.bias == 0)
    h = TINY.hidden_size
    assert torch.all(model.rnn.bias_ih_l0[h : 2 * h] == 1.0) and torch.all(model.rnn.bias_hh_l0 == 0)


def test_unknown_schedule_is_an_error(train_split):
    with pytest.raises(ValueError, match="schedule"):
        train(train_split, None, _recipe(schedule="cosine"), TINY, max_batches=1)


# --- augmentation ----------------------------------------------------------------------------------


def test_augmentation_keeps_shape_and_range_and_changes_images(test_split):
    x = test_split.images[:64]
    out = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    changed = (out - x).abs().flatten(1).max(1).values > 0.1
    assert bool(changed.all())
    # Still a digit: the ink stays roughly the same amount and inside the frame.
    ratio = out.flatten(1).sum(1) / x.flatten(1).sum(1)
    assert float(ratio.min()) > 0.4 and float(ratio.max()) < 2.5
    assert torch.equal(x, test_split.images[:64])  # the input batch is left alone


def test_augmentation_is_deterministic_with_a_seeded_generator(test_split):
    x = test_split.images[:32]
    a = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(5))
    b = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(5))
    c = augment_batch(x, AugmentConfig(), torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augmentation_switched_off_is_the_identity(test_split):
    x = test_split.images[:16]
    off = AugmentConfig(rotate_deg=0, shear=0, scale=0, shift_px=0, p_thicken=0, p_thin=0)
    torch.testing.assert_close(augment_batch(x, off, torch.Generator().manual_seed(0)), x, atol=1e-5, rtol=0)


# --- the CLI ---------------------------------------------------------------------------------------


def _env(data_dir: Path) -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", **{ENV_VAR: str(data_dir)})


def test_cli_dry_run_writes_a_loadable_checkpoint(tmp_path, data_dir):
    out = tmp_path / "x.safetensors"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmviz",
            "train",
            "--dry-run",
            "--out",
            str(out),
            "--hidden-size",
            "16",
            "--seed",
            "3",
            "--threads",
            "1",
        ],
        cwd=ROOT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stderr  # the per-evaluation line under the progress bar
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # stdout is for the JSON result only; progress goes to stderr
    printed = json.loads(lines[0])
    loaded = load_checkpoint(out)
    assert printed == {"checkpoint": str(out), "test_accuracy": loaded.metrics["test_accuracy"]}
    m = loaded.metrics
    assert loaded.config == ModelConfig(hidden_size=16)
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["n_test"] == 10000
    assert m["steps"] == 20 and m["seed"] == 3 and m["recipe"]["seed"] == 3 and m["recipe"]["preset"] == "default"
    assert m["epochs"] == round(20 / 469, 4)
    assert m["config"] == loaded.config.to_dict()
    assert len(m["date"]) == 10 and m["date"][4] == "-"
    assert "train --dry-run" in m["command"]
    assert m["history"][-1]["step"] == 20
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]


@pytest.mark.parametrize(
    "args",
    [["--hidden-size", "0"], ["--batch-size", "-1"], ["--epochs", "two"], ["--threads", "-1"], ["--preset", "fast"]],
)
def test_cli_rejects_bad_options(tmp_path, args, capsys):
    from lstmviz.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path / "y.safetensors"), "--data-dir", str(tmp_path), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and args[0] in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hidden-size", "100000"], "--hidden must be from 16 to 512, not 100000"),
        (["--hidden", "8"], "--hidden must be from 16 to 512, not 8"),
        (["--layers", "4"], "--layers must be from 1 to 3, not 4"),
        (["--layers", "0"], "--layers must be from 1 to 3, not 0"),
    ],
)
def test_cli_hidden_size_and_layers_outside_the_limits_are_clear_errors(tmp_path, capsys, args, words):
    from lstmviz.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(tmp_path / "y.safetensors"), *args])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_interrupted_cli_run_keeps_the_existing_checkpoint(tmp_path, data_dir, tiny_model):
    out = save_checkpoint(tmp_path / "keep.safetensors", tiny_model, {"test_accuracy": 0.5})
    before = out.read_bytes()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstmviz",
            "train",
            "--out",
            str(out),
            "--hidden-size",
            "16",
            "--threads",
            "1",
            "--epochs",
            "1",
        ],
        cwd=ROOT,
        env=_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until the training loop runs (the bar has counted a batch: "| 3/469 ["), then press Ctrl-C.
        deadline = time.monotonic() + 120
        buf = ""
        while time.monotonic() < deadline and not re.search(r"\| *[1-9]\d*/\d+ \[", buf):
            ch = proc.stderr.read(1)
            if not ch:
                break
            buf += ch
        assert re.search(r"\| *[1-9]\d*/\d+ \[", buf), buf
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "no checkpoint was written" in err
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_empty_training_set_is_a_clear_error(test_split):
    from lstmviz.data import Split
    from lstmviz.train import make_recipe, train

    empty = Split(test_split.images[:0], test_split.labels[:0])
    with pytest.raises(ValueError, match="at least one training image"):
        train(empty, None, make_recipe("default", epochs=1))
