"""Cell comparison: row sensitivity, the memory probe, and finding the shipped lstm/gru/rnn models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.checkpoint import save_checkpoint
from lstmviz.data import Split
from lstmviz.figures.cells import accuracy_bars_figure, sensitivity_figure
from lstmviz.memory import (
    find_cell_models,
    memory_probe,
    relative,
    row_sensitivity,
    rows_needed,
    sensitivity_curve,
    untrained_like,
)
from lstmviz.model import CELLS, ModelConfig, build_model
from lstmviz.truncation import truncation_curves


def small(cell: str, seed: int = 5, **kw):
    return build_model(ModelConfig(cell=cell, hidden_size=16, embed_size=16, **kw), seed=seed).eval()


@pytest.mark.parametrize("cell", CELLS)
def test_sensitivity_is_the_jacobian_norm_per_row(test_split, cell):
    model = small(cell)
    images = test_split.images[:5]
    got = row_sensitivity(model, images, batch_size=2)  # batches of 2 and a last one of 1
    assert got.shape == (5, 28)
    for n in range(5):
        jac = torch.autograd.functional.jacobian(lambda x: model(x[None])[0], images[n])  # (10, 28, 28)
        expected = jac.double().pow(2).sum(dim=(0, 2)).sqrt().numpy()  # (28,): over classes and pixels
        np.testing.assert_allclose(got[n], expected, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(sensitivity_curve(model, images), got.mean(0), rtol=1e-5)


def _forgetful_rnn():
    """A plain RNN with a small recurrent matrix: every step shrinks what came before."""
    model = small("rnn")
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.2)
    return model


def _retentive_lstm():
    """An LSTM whose forget gates stay shut near 1 (large forget bias, no recurrent input): c keeps row 1."""
    model = small("lstm", forget_bias=12.0)
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    return model


def test_sensitivity_sees_forgetting(test_split):
    images = torch.rand(20, 28, 28, generator=torch.Generator().manual_seed(0))  # ink in every row
    rnn = relative(sensitivity_curve(_forgetful_rnn(), images))
    lstm = relative(sensitivity_curve(_retentive_lstm(), images))
    assert rnn[-1] == 1.0 and rnn[0] < 1e-6  # the early rows no longer reach the answer
    assert lstm[0] > 0.05  # the cell state carries row 1 to step 28


@pytest.mark.parametrize("cell", CELLS)
def test_untrained_like_is_a_fresh_copy_of_the_architecture(cell):
    config = ModelConfig(cell=cell, hidden_size=16, embed_size=8)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    model = untrained_like(config, seed=4)
    assert torch.equal(torch.rand(3), before)  # the global random state is left alone
    assert model.config == config and not model.training
    same = build_model(config, seed=4)
    for (name, a), (_, b) in zip(model.state_dict().items(), same.state_dict().items(), strict=False):
        assert torch.equal(a, b), name


def test_a_fresh_plain_rnn_barely_hears_the_first_rows(test_split):
    """The lesson of the page, measured on fresh 128-unit networks: the plain RNN's gradient vanishes."""
    images = test_split.images[:100]
    row1 = {c: relative(sensitivity_curve(untrained_like(ModelConfig(cell=c)), images))[0] for c in CELLS}
    assert row1["rnn"] < 1e-5 < 1e-3 < row1["lstm"]
    assert row1["rnn"] < row1["gru"] < row1["lstm"]


def test_relative_and_rows_needed():
    curve = np.array([0.001, 0.005, 0.02, 0.5, 2.0])
    np.testing.assert_allclose(relative(curve), curve / 2.0)
    np.testing.assert_array_equal(relative(np.zeros(4)), np.zeros(4))
    acc = np.array([0.1, 0.5, 0.89, 0.9, 0.95, 0.93])
    assert rows_needed(acc, 0.9) == 4 and rows_needed(acc, 0.1) == 1
    assert rows_needed(acc, 0.99) is None


def test_bad_images_are_rejected(tiny_model):
    with pytest.raises(ValueError, match="shape"):
        row_sensitivity(tiny_model, np.zeros((28, 28)))
    with pytest.raises(ValueError, match="at least one"):
        sensitivity_curve(tiny_model, np.zeros((0, 28, 28)))


@pytest.mark.parametrize("cell", CELLS)
def test_memory_probe_is_accuracy_with_the_first_k_rows_then_zeros(test_split, cell):
    model = small(cell)
    split = Split(test_split.images[:150], test_split.labels[:150])
    probe = memory_probe(truncation_curves(model, split, modes=("occlusion",)))
    assert probe.shape == (28,)
    for k in (1, 9, 20, 28):
        kept = split.images.clone()
        kept[:, k:] = 0.0
        with torch.no_grad():
            acc = (model(kept).argmax(-1) == split.labels).float().mean().item()
        assert probe[k - 1] == pytest.approx(acc, abs=1e-6)
    with pytest.raises(ValueError, match="occlusion"):
        memory_probe(truncation_curves(model, split, modes=("early",)))


def test_find_cell_models(tmp_path):
    save_checkpoint(tmp_path / "lstm.safetensors", small("lstm"), {"test_accuracy": 0.5})
    save_checkpoint(tmp_path / "gru.safetensors", small("rnn"), {})  # the wrong cell under the gru name
    (tmp_path / "rnn.safetensors").write_bytes(b"not a checkpoint")
    found = {m.cell: m for m in find_cell_models(tmp_path)}
    assert list(found) == list(CELLS)
    assert found["lstm"].problem is None and found["lstm"].accuracy == pytest.approx(0.5)
    assert "rnn model, not a gru" in found["gru"].problem
    assert found["rnn"].problem and "rnn.safetensors" in found["rnn"].problem
    (tmp_path / "rnn.safetensors").unlink()
    assert "is not in" in {m.cell: m for m in find_cell_models(tmp_path)}["rnn"].problem


def test_figures():
    fig = accuracy_bars_figure(["LSTM", "RNN"], [0.99, 0.9], ["#111111", "#222222"])
    assert list(fig.data[0].x) == ["LSTM", "RNN"] and list(fig.data[0].text) == ["99.00%", "90.00%"]
    assert fig.layout.yaxis.range[0] <= 0.85
    with pytest.raises(ValueError):
        accuracy_bars_figure(["LSTM"], [0.9, 0.8])
    trained = {"LSTM": np.linspace(0.1, 1, 28), "RNN": np.geomspace(1e-6, 1, 28)}
    fig = sensitivity_figure(trained, {"LSTM": "#111111"}, {"LSTM": np.geomspace(1e-3, 1, 28)})
    assert [t.name for t in fig.data] == ["LSTM", "RNN", "LSTM, untrained"] and fig.layout.yaxis.type == "log"
    np.testing.assert_array_equal(fig.data[1].x, np.arange(1, 29))
    np.testing.assert_allclose(fig.data[2].y, np.geomspace(1e-3, 1, 28))
    assert fig.data[0].line.color == fig.data[2].line.color == "#111111" and fig.data[2].line.dash == "dash"
    assert len(sensitivity_figure(trained).data) == 2


@pytest.mark.parametrize("layers", [2, 3])
def test_sensitivity_of_a_stacked_model_is_its_jacobian_norm(test_split, layers):
    """The sensitivity runs the model's own torch module, so it sees every layer of a stack."""
    model = small("gru", num_layers=layers)
    images = test_split.images[:3]
    got = row_sensitivity(model, images)
    for n in range(3):
        jac = torch.autograd.functional.jacobian(lambda x: model(x[None])[0], images[n])  # (10, 28, 28)
        np.testing.assert_allclose(got[n], jac.double().pow(2).sum(dim=(0, 2)).sqrt().numpy(), rtol=1e-4, atol=1e-9)
    fresh = untrained_like(model.config)
    assert fresh.rnn.num_layers == layers and fresh.config == model.config
