"""The unrolled LSTM trace equals torch.nn.LSTM, step by step (gru/rnn: tests/test_trace_cells.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.evaluate import predict_logits
from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.trace import Trace, trace_batch, trace_image

ATOL = 1e-5


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_CHECKPOINT)


def _models(shipped):
    """A random small LSTM, a random one with a large forget bias, and the trained shipped model."""
    return {
        "random": build_model(ModelConfig(hidden_size=24, embed_size=20), seed=11),
        "bias3": build_model(ModelConfig(hidden_size=16, embed_size=16, forget_bias=3.0), seed=12),
        "shipped": shipped.model,
    }


@pytest.fixture(scope="module")
def images(test_split):
    return test_split.images[:16].numpy()  # (16, 28, 28) real digits


@pytest.mark.parametrize("which", ["random", "bias3", "shipped"])
def test_h_and_c_equal_nn_lstm(shipped, images, which):
    model = _models(shipped)[which].eval()
    tr = trace_batch(model, images)
    x = torch.from_numpy(images)
    with torch.no_grad():
        xp = model.proj(x)  # (N, T, P)
        out, (h_n, c_n) = model.rnn(xp)  # out (N, T, H); h_n, c_n (1, N, H)
        # c is only exposed at the end: run nn.LSTM one step at a time from the previous (h, c).
        n, h_size = x.shape[0], model.config.hidden_size
        state = (torch.zeros(1, n, h_size), torch.zeros(1, n, h_size))
        hs, cs = [], []
        for t in range(x.shape[1]):
            o, state = model.rnn(xp[:, t : t + 1], state)
            hs.append(o[:, 0])
            cs.append(state[1][0])
    np.testing.assert_allclose(tr.projected, xp.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h, out.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h, torch.stack(hs, 1).numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.c, torch.stack(cs, 1).numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h[:, -1], h_n[0].numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.c[:, -1], c_n[0].numpy(), atol=ATOL, rtol=0)
    assert np.abs(tr.c).max() > 0.05  # a real, non-trivial cell state was compared


@pytest.mark.parametrize("which", ["random", "shipped"])
def test_gates_obey_the_lstm_equations(shipped, images, which):
    model = _models(shipped)[which]
    tr = trace_batch(model, images)
    assert tr.cell == "lstm" and tr.gate_names == GATES["lstm"] == ("input", "forget", "candidate", "output")
    n, t, h = len(images), 28, model.config.hidden_size
    for name in tr.gate_names:
        assert tr.gates[name].shape == (n, t, h)
        assert tr.gates[name].dtype == np.float32
    for name in ("input", "forget", "output"):
        assert tr.gates[name].min() >= 0.0 and tr.gates[name].max() <= 1.0
    assert tr.gates["candidate"].min() >= -1.0 and tr.gates["candidate"].max() <= 1.0
    assert tr.gates["candidate"].min() < 0.0 < tr.gates["candidate"].max()
    i, f, g, o = (tr.gates[k] for k in ("input", "forget", "candidate", "output"))
    c_prev = np.concatenate([np.zeros_like(tr.c[:, :1]), tr.c[:, :-1]], axis=1)
    np.testing.assert_allclose(tr.c, f * c_prev + i * g, atol=ATOL, rtol=0)
    np.testing.assert_allclose(tr.h, o * np.tanh(tr.c), atol=ATOL, rtol=0)


def test_gates_recomputed_from_the_weights(shipped, images):
    """Each gate is the activation of the right slice of W_ih x + b_ih + W_hh h_{t-1} + b_hh."""
    model = shipped.model
    tr = trace_batch(model, images[:4])
    rnn, h_size = model.rnn, model.config.hidden_size
    w_ih, w_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    h_prev = np.concatenate([np.zeros_like(tr.h[:, :1]), tr.h[:, :-1]], axis=1)  # (N, T, H)
    pre = tr.projected @ w_ih.T + h_prev @ w_hh.T + b  # (N, T, 4H)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    expected = {
        "input": sig(pre[..., :h_size]),
        "forget": sig(pre[..., h_size : 2 * h_size]),
        "candidate": np.tanh(pre[..., 2 * h_size : 3 * h_size]),
        "output": sig(pre[..., 3 * h_size :]),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(tr.gates[name], value, atol=1e-4, rtol=0, err_msg=name)


@pytest.mark.parametrize("which", ["random", "shipped"])
def test_logits_and_probs(shipped, images, which):
    model = _models(shipped)[which]
    tr = trace_batch(model, images)
    x = torch.from_numpy(images)
    with torch.no_grad():
        np.testing.assert_allclose(tr.logits[:, -1], model(x).numpy(), atol=ATOL, rtol=0)
        np.testing.assert_allclose(tr.logits, model.logits_per_step(x).numpy(), atol=ATOL, rtol=0)
    assert tr.logits.shape == tr.probs.shape == (len(images), 28, 10)
    assert tr.probs.min() >= 0.0
    np.testing.assert_allclose(tr.probs.sum(-1), 1.0, atol=1e-5)
    shifted = np.exp(tr.logits - tr.logits.max(-1, keepdims=True))
    np.testing.assert_allclose(tr.probs, shifted / shifted.sum(-1, keepdims=True), atol=1e-6)
    assert np.array_equal(tr.prediction, tr.logits[:, -1].argmax(-1))
    np.testing.assert_array_equal(tr.rows, images)


def test_single_image_trace_equals_batch_item(shipped, images):
    model = shipped.model
    batch = trace_batch(model, images[:5])
    for k in (0, 3):
        one = trace_image(model, images[k])
        item = batch.item(k)
        for tr in (one, item):
            assert tr.rows.shape == (28, 28) and tr.h.shape == tr.c.shape == (28, 128)
            assert tr.logits.shape == (28, 10) and tr.n_steps == 28
            assert isinstance(tr.prediction, int)
        for field in ("rows", "projected", "h", "c", "logits", "probs"):
            np.testing.assert_allclose(getattr(one, field), getattr(item, field), atol=ATOL, rtol=0, err_msg=field)
        for name in one.gate_names:
            np.testing.assert_allclose(one.gates[name], item.gates[name], atol=ATOL, rtol=0, err_msg=name)
        assert one.prediction == item.prediction == int(batch.prediction[k])
    # A torch tensor works as well as a numpy array.
    from_tensor = trace_image(model, torch.from_numpy(images[0]))
    np.testing.assert_array_equal(from_tensor.h, trace_image(model, images[0]).h)


def test_bad_shapes_are_rejected(tiny_model):
    for bad in (np.zeros(28), np.zeros((1, 2, 28, 28))):
        with pytest.raises(ValueError, match="shape"):
            trace_batch(tiny_model, bad)


def test_trace_is_plain_numpy(tiny_model):
    tr = trace_image(tiny_model, np.random.default_rng(0).random((28, 28), dtype=np.float32))
    assert isinstance(tr, Trace)
    for value in (tr.rows, tr.projected, tr.h, tr.c, tr.logits, tr.probs, *tr.gates.values()):
        assert type(value) is np.ndarray


def test_fewer_rows_is_a_shorter_trace(shipped, images):
    tr = trace_image(shipped.model, images[0, :10])
    full = trace_image(shipped.model, images[0])
    assert tr.n_steps == 10 and tr.h.shape == (10, 128)
    np.testing.assert_allclose(tr.h, full.h[:10], atol=ATOL, rtol=0)


def test_shipped_model_reads_digits_through_the_trace(shipped, test_split):
    images, labels = test_split.images[:200], test_split.labels[:200].numpy()
    tr = trace_batch(shipped.model, images)
    assert np.array_equal(tr.prediction, predict_logits(shipped.model, images).argmax(-1).numpy())
    assert (tr.prediction == labels).mean() >= 0.9
    # Confident at the end, unsure at the start (only blank rows read so far).
    assert tr.probs[:, -1].max(-1).mean() > 0.8
    assert tr.probs[:, 0].max(-1).mean() < tr.probs[:, -1].max(-1).mean()


@pytest.mark.parametrize("kind", ["four layers", "no bias", "bidirectional", "proj_size"])
def test_unroll_refuses_layers_it_does_not_handle(kind, images):
    """Over 3 stacked layers, a bias-free, bidirectional or projected layer would be misread: refused."""
    from lstmviz.trace import UnsupportedModelError

    layer, words = {
        "four layers": (torch.nn.LSTM(16, 16, num_layers=4, batch_first=True), "4 stacked layers"),
        "no bias": (torch.nn.LSTM(16, 16, bias=False, batch_first=True), "no bias"),
        "bidirectional": (torch.nn.GRU(16, 16, bidirectional=True, batch_first=True), "bidirectional"),
        "proj_size": (torch.nn.LSTM(16, 16, proj_size=4, batch_first=True), "proj_size=4"),
    }[kind]
    model = build_model(ModelConfig(hidden_size=16, embed_size=16), seed=0)
    model.rnn = layer
    with pytest.raises(UnsupportedModelError, match=words):
        trace_batch(model, images[:2])
    with pytest.raises(ValueError):  # an UnsupportedModelError is a ValueError: callers' handlers catch it
        trace_image(model, images[0])
