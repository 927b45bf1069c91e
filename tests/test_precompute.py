"""Shipped precomputed results: used when the weights' and the data's hashes match, ignored (and the result
computed again, with no error) when either differs or the file is corrupt; the shipped files fit the
shipped models and the MNIST test set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmviz import precompute, stored, truncation
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint, weights_hash
from lstmviz.data import MNIST_TEST_KEY, Split
from lstmviz.model import ModelConfig, build_model
from lstmviz.precompute import compute, load_precomputed, precompute_model
from lstmviz.truncation import cached_truncation, split_key, write_truncation_file

ROOT = Path(__file__).resolve().parent.parent
FILES = ("predictions", "statespace", "sensitivity", "untrained_sensitivity")


@pytest.fixture
def small(test_split) -> Split:
    return test_split.subset(300)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """Precomputed files of the tiny model on `small`, in a folder that stands in for models/precomputed."""
    out = tmp_path / "precomputed"
    monkeypatch.setattr(stored, "PRECOMPUTED_DIR", out)
    return out


def _tiny(seed: int = 0):
    return build_model(ModelConfig(hidden_size=16, embed_size=16), seed=seed).eval()


def _write(model, small, folder):
    weights, data = weights_hash(model), split_key(small)
    files = precompute_model(model, "tiny", small, weights, data, folder)
    write_truncation_file(
        folder / "tiny.truncation.npz", weights, data, cached_truncation(model, small, use_cache=False)
    )
    return weights, data, files


def _never(*args, **kwargs):
    raise AssertionError("computed although a matching precomputed file exists")


def test_used_when_hashes_match(small, folder, monkeypatch):
    model = _tiny()
    weights, data, files = _write(model, small, folder)
    assert sorted(p.name for p in files) == sorted(f"tiny.{f}.npz" for f in FILES)
    expected = {what: compute(what, model, small) for what in ("predictions", "sensitivity", "pca")}
    expected["statespace"] = compute("statespace", model, small, 200)
    monkeypatch.setattr(precompute, "compute", _never)  # nothing may be computed now
    value, full = load_precomputed("predictions", weights, data, small)
    assert not full and np.array_equal(value, expected["predictions"])
    value, _ = load_precomputed("sensitivity", weights, data, small)
    np.testing.assert_allclose(value, expected["sensitivity"])
    pca, _ = load_precomputed("pca", weights, data, small)
    np.testing.assert_allclose(pca.components, expected["pca"].components)
    space, _ = load_precomputed("statespace", weights, data, small, 200)
    ref = expected["statespace"]
    assert np.array_equal(space.indices, ref.indices) and np.array_equal(space.labels, ref.labels)
    np.testing.assert_allclose(space.coords3, ref.coords3, atol=2e-3 * max(1.0, np.abs(ref.coords3).max()))
    np.testing.assert_allclose(space.separation["h"].centroid_accuracy, ref.separation["h"].centroid_accuracy)
    # the truncation curves: read from the shipped file, not computed
    monkeypatch.setattr(truncation.cache, "truncation_curves", _never)
    result = cached_truncation(model, small)
    assert result.n == len(small) and set(result.modes) == set(truncation.MODES)


def test_ignored_when_weights_or_data_differ(small, folder, test_split, monkeypatch):
    model = _tiny()
    weights, data, _ = _write(model, small, folder)
    other = _tiny(seed=1)
    assert load_precomputed("predictions", weights_hash(other), data, small) is None
    other_data = test_split.subset(200)
    assert load_precomputed("predictions", weights, split_key(other_data), other_data) is None
    # cached_truncation then computes: another model's curves, and the same model on other data
    calls = []
    real = truncation.truncation_curves
    monkeypatch.setattr(truncation.cache, "truncation_curves", lambda *a, **k: calls.append(1) or real(*a, **k))
    cached_truncation(other, small, use_cache=False)
    fresh = cached_truncation(model, other_data, use_cache=False)
    assert len(calls) == 2 and fresh.n == 200


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong_keys", "wrong_shapes"])
def test_corrupt_file_is_ignored_and_recomputed(small, folder, damage, monkeypatch):
    model = _tiny()
    weights, data, _ = _write(model, small, folder)
    for path in sorted(folder.glob("*.npz")):
        raw = path.read_bytes()
        if damage == "truncated":  # a cut-off zip: BadZipFile inside np.load
            path.write_bytes(raw[: len(raw) // 2])
        elif damage == "garbage":
            path.write_bytes(b"not a zip file at all")
        else:
            with np.load(path) as f:
                arrays = {k: f[k] for k in f.files}
            for key in [k for k in arrays if k not in ("version", "weights", "data")]:
                if damage == "wrong_keys":
                    arrays[key + "_renamed"] = arrays.pop(key)
                else:
                    arrays[key] = np.zeros((3, 2, 5), arrays[key].dtype)
            np.savez_compressed(path, **arrays)
    for what, args in (("predictions", ()), ("sensitivity", ()), ("pca", ()), ("statespace", (200,))):
        assert load_precomputed(what, weights, data, small, *args) is None, what
    # the truncation curves are computed again, with no error
    result = cached_truncation(model, small, use_cache=True)
    reference = truncation.truncation_curves(model, small)
    for m in truncation.MODES:
        assert np.array_equal(result.predictions[m], reference.predictions[m])


def test_app_helper_uses_and_ignores_precomputed(small, folder, monkeypatch):
    """lstmviz.ui.cache.model_result: a matching file is read (nothing computed); a corrupt one is recomputed."""
    import streamlit as st

    from lstmviz.checkpoint import LoadedModel
    from lstmviz.ui import cache

    model = _tiny()
    weights, data, _ = _write(model, small, folder)
    loaded = LoadedModel(model, model.config)
    st.cache_resource.clear()
    real = precompute.compute
    monkeypatch.setattr(precompute, "compute", _never)
    info = cache.result_info("predictions", loaded, small)
    assert info.precomputed and not info.full
    assert not info.value.flags.writeable  # shared read-only between sessions
    (folder / "tiny.predictions.npz").write_bytes(b"PK\x03\x04 truncated")
    st.cache_resource.clear()
    monkeypatch.setattr(precompute, "compute", real)
    info = cache.result_info("predictions", loaded, small)
    assert not info.precomputed
    assert np.array_equal(info.value, precompute.final_predictions(model, small))
    st.cache_resource.clear()


def test_full_test_set_results_serve_the_sample(small, folder, monkeypatch):
    """On the bundled sample (the start of the test set) the app shows the full test set's precomputed
    results; the CLI (full_on_sample=False) computes on the sample instead."""
    model = _tiny()
    weights, data, _ = _write(model, small, folder)
    monkeypatch.setattr(stored, "MNIST_TEST_KEY", data)  # `small` plays the full test set
    sample = Split(small.images[:100], small.labels[:100], "sample")
    preds, full = load_precomputed("predictions", weights, split_key(sample), sample)
    assert full and np.array_equal(preds, precompute.final_predictions(model, small)[:100])
    result = cached_truncation(model, sample)
    assert result.n == len(small)  # the full set's curves, with its labels
    cli = cached_truncation(model, sample, use_cache=False, full_on_sample=False)
    assert cli.n == 100


def test_shipped_files_fit_the_shipped_models(test_split):
    """Every models/*.safetensors has its precomputed files, keyed by its weights and the MNIST test set,
    and they hold what is computed now (predictions exactly, the truncation curves' accuracy)."""
    assert split_key(test_split) == MNIST_TEST_KEY
    folder = MODELS_DIR / "precomputed"
    total = 0
    for ckpt in sorted(MODELS_DIR.glob("*.safetensors")):
        stem = ckpt.name.removesuffix(".safetensors")
        loaded = load_checkpoint(ckpt)
        weights = weights_hash(loaded.model)
        for what in (*FILES, "truncation"):
            path = folder / f"{stem}.{what}.npz"
            assert path.is_file(), f"missing {path}: run `python -m lstmviz precompute`"
            total += path.stat().st_size
            with np.load(path) as f:
                assert str(f["weights"]) == weights and str(f["data"]) == MNIST_TEST_KEY, path
        preds, full = load_precomputed("predictions", weights, MNIST_TEST_KEY, test_split)
        assert not full and np.array_equal(preds, precompute.final_predictions(loaded.model, test_split))
        accuracy = float((preds == test_split.labels.numpy()).mean())
        stored = loaded.metrics.get("test_accuracy")
        if stored is not None:
            assert abs(accuracy - stored) < 1e-6
        curves = truncation.read_precomputed(weights, test_split, MNIST_TEST_KEY)
        assert curves is not None and abs(curves.accuracy["early"][-1] - accuracy) < 1e-9
    assert total < 4 * 2**20, f"precomputed files take {total / 2**20:.1f} MB"


def test_precompute_command_writes_keyed_files(tmp_path, tiny_checkpoint):
    out = tmp_path / "pre"
    proc = subprocess.run(
        [sys.executable, "-m", "lstmviz", "precompute", str(tiny_checkpoint), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["data"] == "test (10,000)"
    names = sorted(Path(p).name for p in report["files"])
    assert names == sorted(f"tiny.{w}.npz" for w in (*FILES, "truncation", "ablation"))
    weights = weights_hash(load_checkpoint(tiny_checkpoint).model)
    for p in report["files"]:
        with np.load(p) as f:
            assert str(f["weights"]) == weights and str(f["data"]) == MNIST_TEST_KEY


def test_stacked_model_ships_every_layers_states(small, folder, monkeypatch):
    """A 2-layer model: the top layer's file keeps the one-layer name, layer 0 has its own; each is read back
    for its own layer only, and equals what is computed for that layer."""
    model = build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=2), seed=3).eval()
    weights, data = weights_hash(model), split_key(small)
    files = precompute_model(model, "deep", small, weights, data, folder)
    assert sorted(p.name for p in files) == sorted([f"deep.{f}.npz" for f in FILES] + ["deep.l0.statespace.npz"])
    expected = {
        layer: (compute("pca", model, small, layer), compute("statespace", model, small, 200, layer))
        for layer in (0, 1)
    }
    assert np.abs(expected[0][0].components - expected[1][0].components).max() > 1e-3  # the layers differ
    top = compute("statespace", model, small, 200)
    np.testing.assert_array_equal(top.coords3, expected[1][1].coords3)
    monkeypatch.setattr(precompute, "compute", _never)
    for layer, args in ((0, (0,)), (1, (1,)), (1, ()), (1, (None,)), (1, (-1,)), (0, (-2,))):
        pca, _ = load_precomputed("pca", weights, data, small, *args)
        np.testing.assert_allclose(pca.components, expected[layer][0].components, err_msg=f"{args}")
        space, _ = load_precomputed("statespace", weights, data, small, 200, *args)
        ref = expected[layer][1]
        np.testing.assert_allclose(space.coords3, ref.coords3, atol=2e-3 * max(1.0, np.abs(ref.coords3).max()))
    assert load_precomputed("pca", weights, data, small, 2) is None  # no third layer


def test_stacked_states_per_layer(small):
    """`states` (the Neuron explorer's sample) of each layer are that layer's h from the trace."""
    from lstmviz.trace import trace_batch

    model = build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=3, cell="gru"), seed=4).eval()
    idx, top = compute("states", model, small, 30)
    tr = trace_batch(model, small.images.numpy()[idx])
    for layer in (0, 1, 2):
        _, states = compute("states", model, small, 30, layer)
        np.testing.assert_allclose(states.h, tr.stack_h[layer], atol=1e-6)
        assert states.c is None and np.array_equal(states.predictions, tr.logits.argmax(-1))
    np.testing.assert_array_equal(top.h, compute("states", model, small, 30, 2)[1].h)


def test_precompute_command_on_a_stacked_model(tmp_path, test_split, monkeypatch):
    """Every layer's state space and ablation are written; the truncation curves equal the reference loop's
    (the fast path refuses a stack on a branch without its stacked version: the command falls back)."""
    import torch

    from lstmviz import cli
    from lstmviz import data as data_module
    from lstmviz.checkpoint import save_checkpoint
    from lstmviz.truncation import CACHE_ENV_VAR, naive_truncation

    small = test_split.subset(40)
    monkeypatch.setattr(data_module, "load_split", lambda train=False, data_dir=None: small)
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    model = build_model(ModelConfig(cell="gru", hidden_size=16, embed_size=16, num_layers=2), seed=6).eval()
    ckpt = save_checkpoint(tmp_path / "deep.safetensors", model, {})
    out = tmp_path / "pre"
    assert cli.main(["precompute", str(ckpt), "--out", str(out)]) == 0
    names = {f"deep.{f}.npz" for f in (*FILES, "truncation", "ablation")} | {"deep.l0.statespace.npz"}
    assert {p.name for p in out.iterdir()} == names | {"deep.ablation.l0.npz"}
    with torch.no_grad():
        reference = naive_truncation(model, small)
    with np.load(out / "deep.truncation.npz") as f:
        assert str(f["weights"]) == weights_hash(model) and str(f["data"]) == split_key(small)
        for mode in truncation.MODES:
            assert np.array_equal(f[f"pred_{mode}"], reference.predictions[mode]), mode
