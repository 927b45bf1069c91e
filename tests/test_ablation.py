"""Unit ablation: each unit silenced in turn; the chart's bar for a unit is a direct evaluation with it silenced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lstmviz.ablation as ab
from lstmviz import cli
from lstmviz.checkpoint import save_checkpoint
from lstmviz.figures.inspector import ablation_figure
from lstmviz.intervene import Intervention, intervene
from lstmviz.model import ModelConfig, build_model
from lstmviz.truncation import CACHE_ENV_VAR

CELLS = ("lstm", "gru", "rnn")


def varied(cell: str, seed: int = 0, hidden: int = 12):
    """A small untrained model whose answers vary from digit to digit (random biases too)."""
    model = build_model(ModelConfig(hidden_size=hidden, embed_size=16, cell=cell), seed=seed)
    model.init_notebook_()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def small(test_split):
    return test_split.subset(200)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "user-cache"
    monkeypatch.setenv(CACHE_ENV_VAR, str(folder))
    return folder


def direct_accuracy(model, split, units) -> float:
    """Accuracy with `units` silenced, through the step-by-step intervention (a different code path)."""
    t = intervene(model, split.images, Intervention(silence=tuple(units)))
    return float((t.probs[:, -1].argmax(-1) == split.labels.numpy()).mean())


@pytest.mark.parametrize("cell", CELLS)
def test_each_bar_is_a_direct_evaluation(cell, small):
    model = varied(cell, seed=2)
    seen = []
    result = ab.unit_ablation(model, small, progress=lambda f, m: seen.append(f), batch_size=80)
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:], strict=False))
    base = float(np.mean((model(small.images).argmax(-1) == small.labels).numpy()))
    assert result.base_accuracy == pytest.approx(base)
    for sort in (False, True):
        fig = ablation_figure(result.drop, result.base_accuracy, sort=sort, selected=3)
        bars = fig.data[0]
        units, heights = np.asarray(bars.customdata), np.asarray(bars.y)
        assert sorted(units.tolist()) == list(range(12))
        if sort:
            assert np.all(np.diff(heights) <= 1e-12)
        for u in (0, 3, 11):
            expected = 100 * (base - direct_accuracy(model, small, [u]))
            assert heights[units.tolist().index(u)] == pytest.approx(expected, abs=1e-9)
    assert np.any(result.drop != 0)  # silencing units does change answers


def test_silencing_a_disconnected_unit_costs_nothing(small):
    model = varied("lstm", seed=5)
    with torch.no_grad():
        model.rnn.weight_hh_l0[:, 4] = 0.0
        model.head.weight[:, 4] = 0.0
    result = ab.unit_ablation(model, small, units=[4, 5])
    assert result.drop[4] == 0.0 and np.array_equal(result.predictions[4], result.baseline)
    assert np.array_equal(result.predictions[0], result.baseline)  # not run: equal to the baseline
    per_class = result.per_class_drop()
    assert per_class.shape == (12, 10) and np.allclose(np.nan_to_num(per_class[4]), 0)


def test_cache_is_written_read_and_keyed(tmp_path, small, cache_dir, monkeypatch):
    model = varied("gru", seed=6)
    path = save_checkpoint(tmp_path / "m.safetensors", model, {})
    first = ab.cached_ablation(path, small)
    beside = path.with_name(path.name + ab.ABLATION_SUFFIX)
    assert beside.is_file()

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(ab, "unit_ablation", boom)
    again = ab.cached_ablation(path, small)
    assert np.array_equal(again.predictions, first.predictions) and np.array_equal(again.baseline, first.baseline)
    with pytest.raises(AssertionError, match="recomputed"):  # another test set is not reused
        ab.cached_ablation(path, small.subset(100))


def test_precompute_is_found_in_the_precomputed_folder(tmp_path, small, cache_dir, monkeypatch):
    model = varied("rnn", seed=7)
    folder = tmp_path / "shipped"
    path = save_checkpoint(folder / "rnn.safetensors", model, {})
    out = ab.precompute_ablation(path, small, folder / "precomputed")
    assert out == folder / "precomputed" / "rnn.ablation.npz" and out.is_file()
    assert out.stat().st_size < 50_000
    expected = ab.unit_ablation(model, small)
    monkeypatch.setattr(ab, "unit_ablation", lambda *a, **k: pytest.fail("recomputed"))
    found = ab.cached_ablation(path, small)
    assert np.array_equal(found.predictions, expected.predictions)
    assert not list(cache_dir.glob("*")) if cache_dir.exists() else True  # nothing new written


def test_job_runs_in_the_background(small, cache_dir):
    job = ab.AblationJob(varied("lstm", seed=8), small.subset(100))
    result = job.wait(120)
    fraction, message, res, error = job.status()
    assert error is None and res is result and fraction == 1.0 and result.n == 100


def test_cli_json(tmp_path, cache_dir, capsys):
    model = varied("lstm", seed=9)
    path = save_checkpoint(tmp_path / "c.safetensors", model, {})
    assert cli.main(["ablation", "--checkpoint", str(path), "--n", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 120 and len(out["drop"]) == 12 and sorted(out["ranking"]) == list(range(12))
    u = out["ranking"][0]
    small = __import__("lstmviz.data", fromlist=["load_split"]).load_split(False).subset(120)
    assert out["drop"][u] == pytest.approx(out["base_accuracy"] - direct_accuracy(model, small, [u]))
    assert cli.main(["ablation", "--checkpoint", str(path), "--n", "120", "--top", "3"]) == 0
    assert capsys.readouterr().out.count("unit ") == 3
