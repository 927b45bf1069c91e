"""Unit ablation: each unit silenced in turn; the chart's bar for a unit is a direct evaluation with it silenced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from stacked import silenced_copy, stacked_model
from test_truncation import varied_model

import lstmviz.ablation as ab
from lstmviz import cli
from lstmviz.checkpoint import save_checkpoint
from lstmviz.figures.inspector import ablation_figure
from lstmviz.intervene import Intervention, intervene
from lstmviz.truncation import CACHE_ENV_VAR

CELLS = ("lstm", "gru", "rnn")


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
    model = varied_model(cell, seed=2)
    seen = []
    result = ab.unit_ablation(model, small, progress=lambda f, m: seen.append(f), batch_size=80)
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:], strict=False))
    base = float(np.mean((model(small.images).argmax(-1) == small.labels).numpy()))
    assert result.base_accuracy == pytest.approx(base)
    for sort in (False, True):
        fig = ablation_figure(result.drop, result.base_accuracy, sort=sort, selected=3)
        bars = fig.data[0]
        units, heights = np.asarray(bars.customdata), np.asarray(bars.y)
        assert sorted(units.tolist()) == list(range(16))
        if sort:
            assert np.all(np.diff(heights) <= 1e-12)
        for u in (0, 3, 11):
            expected = 100 * (base - direct_accuracy(model, small, [u]))
            assert heights[units.tolist().index(u)] == pytest.approx(expected, abs=1e-9)
    assert np.any(result.drop != 0)  # silencing units does change answers


def test_silencing_a_disconnected_unit_costs_nothing(small):
    model = varied_model("lstm", seed=5)
    with torch.no_grad():
        model.rnn.weight_hh_l0[:, 4] = 0.0
        model.head.weight[:, 4] = 0.0
    result = ab.unit_ablation(model, small, units=[4, 5])
    assert result.drop[4] == 0.0 and np.array_equal(result.predictions[4], result.baseline)
    assert np.array_equal(result.predictions[0], result.baseline)  # not run: equal to the baseline
    per_class = result.per_class_drop()
    assert per_class.shape == (16, 10) and np.allclose(np.nan_to_num(per_class[4]), 0)


def test_cache_is_written_read_and_keyed(tmp_path, small, cache_dir, monkeypatch):
    model = varied_model("gru", seed=6)
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
    model = varied_model("rnn", seed=7)
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
    job = ab.AblationJob(varied_model("lstm", seed=8), small.subset(100))
    result = job.wait(120)
    fraction, message, res, error = job.status()
    assert error is None and res is result and fraction == 1.0 and result.n == 100


def test_cli_json(tmp_path, cache_dir, capsys):
    model = varied_model("lstm", seed=9)
    path = save_checkpoint(tmp_path / "c.safetensors", model, {})
    assert cli.main(["ablation", "--checkpoint", str(path), "--n", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 120 and len(out["drop"]) == 16 and sorted(out["ranking"]) == list(range(16))
    u = out["ranking"][0]
    small = __import__("lstmviz.data", fromlist=["load_split"]).load_split(False).subset(120)
    assert out["drop"][u] == pytest.approx(out["base_accuracy"] - direct_accuracy(model, small, [u]))
    assert cli.main(["ablation", "--checkpoint", str(path), "--n", "120", "--top", "3"]) == 0
    assert capsys.readouterr().out.count("unit ") == 3


# ---------------------------------------------------------------- stacked models


@pytest.mark.parametrize("layer", [0, 1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_each_layer_of_a_stack_equals_torch_with_the_unit_cut(cell, layer, small):
    """Silencing unit u of layer k = torch's stacked module with that unit's candidate weights zeroed."""
    model = stacked_model(cell, layers=3, seed=20 + layer)
    with torch.no_grad():  # a sharper readout and embedding: answers vary from digit to digit
        model.head.weight.mul_(30.0)
        model.proj.weight.mul_(3.0)
    units = [1, 6, 13]
    small = small.subset(120)
    result = ab.unit_ablation(model, small, units=units, layer=layer, batch_size=50)
    assert result.layer == layer and result.n_units == 16
    with torch.no_grad():
        assert np.array_equal(result.baseline, model(small.images).argmax(-1).numpy())
        for u in units:
            logits = silenced_copy(model, layer, [u])(small.images).numpy()  # (N, 10) torch's own stacked module
            differ = np.flatnonzero(result.predictions[u] != logits.argmax(-1))
            gap = logits[differ, logits[differ].argmax(-1)] - logits[differ, result.predictions[u][differ]]
            assert len(differ) <= 1 and np.all(gap < 1e-3), (u, differ, gap)  # at most a float tie
            t = intervene(model, small.images, Intervention(silence=(u,), layer=layer))
            assert result.accuracy[u] == pytest.approx(float((t.prediction == small.labels.numpy()).mean()))
    assert np.array_equal(result.predictions[0], result.baseline)  # not run
    assert any(np.any(result.predictions[u] != result.baseline) for u in units)


def test_a_one_layer_model_is_ablated_as_before(small):
    """The default layer of a one-layer model is its only one; an explicit layer=0 is the same run."""
    model = varied_model("lstm", seed=3)
    a, b = ab.unit_ablation(model, small, units=[2, 9]), ab.unit_ablation(model, small, units=[2, 9], layer=0)
    assert a.layer == b.layer == 0 and np.array_equal(a.predictions, b.predictions)
    with pytest.raises(ValueError, match="layer"):
        ab.unit_ablation(model, small, units=[2], layer=1)


def test_stacked_cache_and_precompute_keep_layers_apart(tmp_path, small, cache_dir, monkeypatch):
    model = stacked_model("gru", layers=2, seed=30)
    folder = tmp_path / "shipped"
    path = save_checkpoint(folder / "deep.safetensors", model, {})
    top = ab.precompute_ablation(path, small.subset(60), folder / "precomputed")
    low = ab.precompute_ablation(path, small.subset(60), folder / "precomputed", layer=0)
    assert top.name == "deep.ablation.npz" and low.name == "deep.ablation.l0.npz"
    first = ab.cached_ablation(path, small.subset(60), layer=0)
    assert first.layer == 0
    monkeypatch.setattr(ab, "unit_ablation", lambda *a, **k: pytest.fail("recomputed"))
    for layer, expected in ((0, low), (1, top), (None, top), (-1, top)):
        found = ab.stored_ablation(path, small.subset(60), layer=layer)
        assert found is not None and found.layer == (1 if layer in (1, None, -1) else 0)
        assert ab.read_ablation(
            expected, found_keys(model, small.subset(60))[0], found_keys(model, small.subset(60))[1]
        )
    assert not np.array_equal(
        ab.stored_ablation(path, small.subset(60), layer=0).predictions,
        ab.stored_ablation(path, small.subset(60), layer=1).predictions,
    )
    # a file of one layer is never read as another's
    weights, data = found_keys(model, small.subset(60))
    assert (
        ab.read_ablation(low, weights, data, layer=1) is None and ab.read_ablation(top, weights, data, layer=0) is None
    )


def found_keys(model, split) -> tuple[str, str]:
    from lstmviz.checkpoint import weights_hash
    from lstmviz.truncation import split_key

    return weights_hash(model), split_key(split)
