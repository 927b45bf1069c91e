"""`python -m lstmviz evaluate`: the JSON result, and clear errors (exit 2) for bad checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint_bytes, weights_hash
from lstmviz.cli import main
from lstmviz.data import ENV_VAR

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if data_dir is not None:
        env[ENV_VAR] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "lstmviz", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_evaluate_json_on_the_shipped_model(data_dir, monkeypatch, capsys):
    """`evaluate --json` prints what lstmviz.evaluate.accuracy says of the shipped model (one pass over 10,000)."""
    import lstmviz.evaluate

    before = DEFAULT_CHECKPOINT.read_bytes()
    calls = []
    real = lstmviz.evaluate.accuracy

    def spy(model, split, *args, **kwargs):
        calls.append((weights_hash(model), len(split), real(model, split, *args, **kwargs)))
        return calls[-1][-1]

    monkeypatch.setattr(lstmviz.evaluate, "accuracy", spy)
    monkeypatch.setenv(ENV_VAR, str(data_dir))
    assert main(["evaluate", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # exactly one JSON object, nothing else on stdout
    assert set(result) == {"test_accuracy", "n", "data", "checkpoint"}
    assert result["n"] == 10000 and result["data"] == "test (10,000)"
    assert result["checkpoint"] == str(DEFAULT_CHECKPOINT)
    assert DEFAULT_CHECKPOINT.read_bytes() == before  # evaluating writes nothing into the checkpoint
    loaded = load_checkpoint_bytes(before, str(DEFAULT_CHECKPOINT))
    assert calls == [(weights_hash(loaded.model), 10000, result["test_accuracy"])]
    assert 0.9 < result["test_accuracy"] <= 1.0
    # The figure stored in the shipped checkpoint was measured the same way on the same 10,000 images.
    assert loaded.metrics["n_test"] == 10000
    assert result["test_accuracy"] == pytest.approx(loaded.metrics["test_accuracy"], abs=1e-6)


def test_evaluate_text_output(tiny_checkpoint, data_dir, capsys):
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tiny_checkpoint}: test accuracy ") and "on 10000 images" in out


@pytest.mark.parametrize("content", [b"", b"\x00" * 40, b"not a checkpoint at all" * 10])
def test_corrupt_checkpoint_exits_2(tmp_path, data_dir, capsys, content):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(content)
    assert main(["evaluate", "--json", "--checkpoint", str(bad), "--data-dir", str(data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and str(bad) in captured.err


def test_corrupt_checkpoint_subprocess_no_traceback(tmp_path, tiny_checkpoint, capsys):
    bad = tmp_path / "half.safetensors"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:-100])
    proc = _run("evaluate", "--json", "--checkpoint", str(bad), "--data-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: {bad}: ") and "safetensors" in proc.stderr
    missing = tmp_path / "missing.safetensors"
    assert main(["evaluate", "--checkpoint", str(missing), "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {missing}: checkpoint file not found\n"
