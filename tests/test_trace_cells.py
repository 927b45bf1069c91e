"""The unrolled GRU and plain RNN traces equal torch.nn.GRU / torch.nn.RNN (the LSTM: tests/test_trace.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.checkpoint import MODELS_DIR, load_checkpoint
from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.trace import trace_batch, trace_image

ATOL = 1e-5
CELLS = ("gru", "rnn")


def _sharp(model):
    """Larger weights, so units saturate and the state swings far, as in a trained model."""
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(2.5)
    return model


def _models(cell: str) -> dict:
    models = {
        "random": build_model(ModelConfig(cell=cell, hidden_size=24, embed_size=20), seed=21),
        "sharp": _sharp(build_model(ModelConfig(cell=cell, hidden_size=16, embed_size=16), seed=22)),
    }
    shipped = MODELS_DIR / f"{cell}.safetensors"
    if shipped.is_file():
        models["shipped"] = load_checkpoint(shipped).model
    return {k: m.eval() for k, m in models.items()}


def _cases():
    return [(cell, which) for cell in CELLS for which in ("random", "sharp", "shipped")]


@pytest.fixture(scope="module")
def images(test_split):
    return test_split.images[:12].numpy()  # (12, 28, 28) real digits


def _model(cell: str, which: str):
    models = _models(cell)
    if which not in models:
        pytest.skip(f"models/{cell}.safetensors is not shipped yet")
    return models[which]


@pytest.mark.parametrize(("cell", "which"), _cases())
def test_h_equals_the_torch_module(images, cell, which):
    model = _model(cell, which)
    tr = trace_batch(model, images)
    x = torch.from_numpy(images)
    with torch.no_grad():
        xp = model.proj(x)  # (N, T, P)
        out, h_n = model.rnn(xp)  # out (N, T, H): the module's own per-step outputs; h_n (1, N, H)
        state = torch.zeros(1, x.shape[0], model.config.hidden_size)
        steps = []
        for t in range(x.shape[1]):  # one step at a time from the module's previous state
            o, state = model.rnn(xp[:, t : t + 1], state)
            steps.append(o[:, 0])
    assert tr.cell == cell and tr.c is None
    np.testing.assert_allclose(tr.projected, xp.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h, out.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h, torch.stack(steps, 1).numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h[:, -1], h_n[0].numpy(), atol=ATOL, rtol=0)
    assert np.abs(tr.h).max() > 0.3  # a real, non-trivial state was compared


@pytest.mark.parametrize(("cell", "which"), _cases())
def test_logits_equal_the_model(images, cell, which):
    model = _model(cell, which)
    tr = trace_batch(model, images)
    x = torch.from_numpy(images)
    with torch.no_grad():
        np.testing.assert_allclose(tr.logits[:, -1], model(x).numpy(), atol=ATOL, rtol=0)
        np.testing.assert_allclose(tr.logits, model.logits_per_step(x).numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.probs.sum(-1), 1.0, atol=1e-5)
    assert np.array_equal(tr.prediction, tr.logits[:, -1].argmax(-1))


@pytest.mark.parametrize("which", ["random", "sharp", "shipped"])
def test_gru_gates_obey_the_equations(images, which):
    """r, z, n recomputed from the weights (torch.nn.GRU's equations), and h = (1 - z) n + z h_prev."""
    model = _model("gru", which)
    tr = trace_batch(model, images)
    assert tr.gate_names == GATES["gru"] == ("reset", "update", "candidate")
    rnn, hs = model.rnn, model.config.hidden_size
    w_ih, w_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b_ih, b_hh = rnn.bias_ih_l0.detach().numpy(), rnn.bias_hh_l0.detach().numpy()
    h_prev = np.concatenate([np.zeros_like(tr.h[:, :1]), tr.h[:, :-1]], axis=1)  # (N, T, H)
    gi = tr.projected @ w_ih.T + b_ih  # (N, T, 3H)
    gh = h_prev @ w_hh.T + b_hh
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r = sig(gi[..., :hs] + gh[..., :hs])
    z = sig(gi[..., hs : 2 * hs] + gh[..., hs : 2 * hs])
    n = np.tanh(gi[..., 2 * hs :] + r * gh[..., 2 * hs :])
    for name, value in (("reset", r), ("update", z), ("candidate", n)):
        assert tr.gates[name].shape == (len(images), 28, hs)
        np.testing.assert_allclose(tr.gates[name], value, atol=1e-4, rtol=0, err_msg=name)
    np.testing.assert_allclose(tr.h, (1 - z) * n + z * h_prev, atol=1e-4, rtol=0)
    for name in ("reset", "update"):
        assert 0.0 <= tr.gates[name].min() and tr.gates[name].max() <= 1.0
    assert tr.gates["candidate"].min() < 0.0 < tr.gates["candidate"].max()


@pytest.mark.parametrize("which", ["random", "sharp", "shipped"])
def test_rnn_has_no_gates_and_obeys_its_equation(images, which):
    model = _model("rnn", which)
    tr = trace_batch(model, images)
    assert tr.gate_names == GATES["rnn"] == () and tr.gates == {}
    rnn = model.rnn
    w_ih, w_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    h_prev = np.concatenate([np.zeros_like(tr.h[:, :1]), tr.h[:, :-1]], axis=1)
    np.testing.assert_allclose(tr.h, np.tanh(tr.projected @ w_ih.T + h_prev @ w_hh.T + b), atol=1e-4, rtol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_single_image_trace_equals_batch_item(images, cell):
    model = _models(cell)["random"]
    batch = trace_batch(model, images[:4])
    one = trace_image(model, images[2])
    item = batch.item(2)
    assert one.c is None and item.c is None and one.h.shape == (28, 24)
    for field in ("rows", "projected", "h", "logits", "probs"):
        np.testing.assert_allclose(getattr(one, field), getattr(item, field), atol=ATOL, rtol=0, err_msg=field)
    for name in one.gate_names:
        np.testing.assert_allclose(one.gates[name], item.gates[name], atol=ATOL, rtol=0, err_msg=name)
    assert one.prediction == int(batch.prediction[2])
