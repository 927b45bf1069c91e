"""Stacked models: the trace's gates, c and h of EVERY layer equal torch.nn.LSTM/GRU/RNN(num_layers=N).

Each layer is checked twice: against the model's own stacked module (its per-step top output and the final
h and c of every layer it returns), and against a one-layer torch module loaded with that layer's weights
and rerun on the previous torch layer's output (step by step for the LSTM's c). The gates are recomputed
from each layer's weights and its input, h and c.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.trace import Trace, layer_weights, trace_batch, trace_image

ATOL = 1e-5
MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


@pytest.fixture(scope="module")
def images(test_split):
    return test_split.images[:6].numpy()  # (6, 28, 28) real digits


def _stacked(cell: str, layers: int, hidden: int, seed: int = 3):
    model = build_model(ModelConfig(cell=cell, hidden_size=hidden, embed_size=32, num_layers=layers), seed=seed)
    with torch.no_grad():  # larger weights: units saturate and the states swing, as in a trained model
        for p in model.rnn.parameters():
            p.mul_(2.0 if hidden <= 64 else 1.5)
    return model.eval()


def _one_layer_torch(model, k: int, in_size: int) -> torch.nn.Module:
    """A fresh one-layer torch module of the model's cell holding layer k's weights."""
    cfg = model.config
    mod = MODULES[cfg.cell](in_size, cfg.hidden_size, num_layers=1, batch_first=True)
    with torch.no_grad():
        for src, name in zip(layer_weights(model, k), ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), strict=True):
            getattr(mod, f"{name}_l0").copy_(src)
    return mod.eval()


def _torch_layers(model, x: torch.Tensor) -> list[dict[str, np.ndarray]]:
    """Every layer's h (B, T, H) and (LSTM) c (B, T, H) computed by one-layer torch modules, layer by layer."""
    cfg = model.config
    layers, xin = [], model.proj(x)
    for k in range(cfg.num_layers):
        mod = _one_layer_torch(model, k, xin.shape[-1])
        out, _ = mod(xin)  # (B, T, H)
        layer = {"h": out.numpy()}
        if cfg.cell == "lstm":  # c only at the end of a call: one step at a time
            state, cs = None, []
            for t in range(xin.shape[1]):
                _, state = mod(xin[:, t : t + 1], state)
                cs.append(state[1][0])
            layer["c"] = torch.stack(cs, 1).numpy()
        layers.append(layer)
        xin = out
    return layers


def _sig(v):
    return 1 / (1 + np.exp(-v))


def _check_gates(tr: Trace, model, k: int) -> None:
    """Layer k's gates are the activations of W_ih x + b_ih and W_hh h_{t-1} + b_hh over its input x."""
    w_ih, w_hh, b_ih, b_hh = (w.detach().double().numpy() for w in layer_weights(model, k))
    lay = tr.at_layer(k)
    x = lay.layer_input.astype(np.float64)  # (N, T, P or H)
    h = lay.h.astype(np.float64)
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    gx, gh = x @ w_ih.T + b_ih, h_prev @ w_hh.T + b_hh  # (N, T, G*H)
    H = model.config.hidden_size
    part = lambda a, j: a[..., j * H : (j + 1) * H]  # noqa: E731
    if tr.cell == "lstm":
        pre = gx + gh
        expected = {
            "input": _sig(part(pre, 0)),
            "forget": _sig(part(pre, 1)),
            "candidate": np.tanh(part(pre, 2)),
            "output": _sig(part(pre, 3)),
        }
        c = lay.c.astype(np.float64)
        c_prev = np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], axis=1)
        np.testing.assert_allclose(
            c, expected["forget"] * c_prev + expected["input"] * expected["candidate"], atol=ATOL
        )
    elif tr.cell == "gru":
        r = _sig(part(gx, 0) + part(gh, 0))
        expected = {
            "reset": r,
            "update": _sig(part(gx, 1) + part(gh, 1)),
            "candidate": np.tanh(part(gx, 2) + r * part(gh, 2)),
        }
    else:
        expected = {}
        np.testing.assert_allclose(h, np.tanh(gx + gh), atol=ATOL)
    assert set(expected) == set(lay.gates) == set(GATES[tr.cell])
    for name, value in expected.items():
        assert lay.gates[name].shape == lay.h.shape
        np.testing.assert_allclose(lay.gates[name], value, atol=ATOL, rtol=0, err_msg=f"layer {k} {name}")


@pytest.mark.parametrize("hidden", [16, 64, 256])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_every_layer_equals_torch(images, cell, layers, hidden):
    model = _stacked(cell, layers, hidden)
    x = torch.from_numpy(images)
    tr = trace_batch(model, images)
    n, t = images.shape[:2]
    assert tr.n_layers == layers and tr.layer == layers - 1
    assert tr.stack_h.shape == (layers, n, t, hidden)
    with torch.no_grad():
        out, state = model.rnn(model.proj(x))  # the model's own stacked module
        h_n, c_n = state if cell == "lstm" else (state, None)  # (L, N, H) each
        reruns = _torch_layers(model, x)
        logits = model.logits_per_step(x).numpy()
    np.testing.assert_allclose(tr.h, out.numpy(), atol=ATOL, rtol=0)  # the top layer, as before
    np.testing.assert_allclose(tr.logits, logits, atol=ATOL, rtol=0)
    for k in range(layers):
        np.testing.assert_allclose(tr.stack_h[k], reruns[k]["h"], atol=ATOL, rtol=0, err_msg=f"h of layer {k}")
        np.testing.assert_allclose(tr.stack_h[k][:, -1], h_n[k].numpy(), atol=ATOL, rtol=0, err_msg=f"h_n[{k}]")
        if cell == "lstm":
            np.testing.assert_allclose(tr.stack_c[k], reruns[k]["c"], atol=ATOL, rtol=0, err_msg=f"c of layer {k}")
            np.testing.assert_allclose(tr.stack_c[k][:, -1], c_n[k].numpy(), atol=ATOL, rtol=0, err_msg=f"c_n[{k}]")
        else:
            assert tr.stack_c is None and tr.c is None
        _check_gates(tr, model, k)
    if layers > 1:  # the layers really differ: a check of layer 0 alone would not do
        assert np.abs(tr.stack_h[0] - tr.stack_h[-1]).max() > 0.05
    assert np.abs(tr.h).max() > 0.2  # non-trivial states were compared


def test_at_layer_layer_input_and_item(images):
    model = _stacked("lstm", 3, 16)
    tr = trace_batch(model, images)
    assert tr.layer == 2
    np.testing.assert_array_equal(tr.h, tr.stack_h[2])
    np.testing.assert_array_equal(tr.layer_input, tr.stack_h[1])
    for k, want_input in ((0, tr.projected), (1, tr.stack_h[0]), (2, tr.stack_h[1])):
        lay = tr.at_layer(k)
        assert lay.layer == k and lay.n_layers == 3
        np.testing.assert_array_equal(lay.h, tr.stack_h[k])
        np.testing.assert_array_equal(lay.c, tr.stack_c[k])
        for name in lay.gate_names:
            np.testing.assert_array_equal(lay.gates[name], tr.stack_gates[name][k])
        np.testing.assert_array_equal(lay.layer_input, want_input)
        np.testing.assert_array_equal(lay.logits, tr.logits)  # the readout always reads the top layer
        assert lay.prediction.tolist() == tr.prediction.tolist()
        one = lay.item(4)
        assert one.layer == k and one.n_layers == 3
        np.testing.assert_array_equal(one.h, tr.stack_h[k, 4])
        np.testing.assert_array_equal(one.stack_c, tr.stack_c[:, 4])
        np.testing.assert_array_equal(one.layer_input, want_input[4])
    assert tr.at_layer(-3).layer == 0 and tr.at_layer(None).layer == 2
    for bad in (3, -4, 1.0, True):
        with pytest.raises(ValueError, match="layer"):
            tr.at_layer(bad)
    one = trace_image(model, images[2])
    assert one.stack_h.shape == (3, 28, 16) and one.stack_gates["forget"].shape == (3, 28, 16)
    np.testing.assert_allclose(one.stack_h, tr.stack_h[:, 2], atol=ATOL, rtol=0)


def test_one_layer_trace_built_by_hand_has_a_stack_of_one():
    """Code that builds a Trace from h, c and gates alone (one layer) gets the stack fields filled in."""
    rng = np.random.default_rng(0)
    h, c, g = (rng.random((5, 16), dtype=np.float32) for _ in range(3))
    tr = Trace(
        "lstm", rng.random((5, 28)), rng.random((5, 8)), {"input": g}, h, c, rng.random((5, 10)), rng.random((5, 10))
    )
    assert tr.n_layers == 1 and tr.layer == 0
    np.testing.assert_array_equal(tr.stack_h[0], h)
    np.testing.assert_array_equal(tr.at_layer(0).c, c)
    np.testing.assert_array_equal(tr.layer_input, tr.projected)
