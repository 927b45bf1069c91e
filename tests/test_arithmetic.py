"""The unit inspector's numbers: its terms add up to the gates the model computed, checked in numpy from the
checkpoint file's own tensors, and c_t, h_t are recomputed from them (tiny models and the shipped ones)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from lstmviz.arithmetic import reading, unit_step
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint, save_checkpoint
from lstmviz.figures.inspector import equation_lines, legend_line, pixel_strip_figure, top_hidden_figure
from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.trace import Trace, trace_image, unroll

CELLS = ("lstm", "gru", "rnn")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tiny_checkpoint(tmp_path: Path, cell: str, seed: int = 0) -> Path:
    """A small untrained model with random biases too (so the bias terms are not all zero)."""
    model = build_model(ModelConfig(hidden_size=12, embed_size=10, cell=cell), seed=seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.5)
    return save_checkpoint(tmp_path / f"tiny-{cell}.safetensors", model, {})


def reference_pre(w: dict[str, np.ndarray], cell: str, H: int, unit: int, x: np.ndarray, h_prev: np.ndarray):
    """Each gate's pre-activation of one unit, straight from the checkpoint's tensors (float64 numpy)."""
    f64 = {k: v.astype(np.float64) for k, v in w.items()}
    xp = f64["proj.weight"] @ x + f64["proj.bias"]
    gi = f64["rnn.weight_ih_l0"] @ xp + f64["rnn.bias_ih_l0"]  # (G*H,)
    gh = f64["rnn.weight_hh_l0"] @ h_prev + f64["rnn.bias_hh_l0"]
    names = GATES[cell] or ("state",)
    pre = {}
    for k, name in enumerate(names):
        r = k * H + unit
        if cell == "gru" and name == "candidate":
            pre[name] = gi[r] + sigmoid(pre["reset"]) * gh[r]
        else:
            pre[name] = gi[r] + gh[r]
    return pre


def trace64(model, image: np.ndarray) -> Trace:
    """The model's own unroll (trace.unroll) in float64, so that 1e-6 is not below float32's rounding."""
    m64 = copy.deepcopy(model).double()
    out = unroll(m64, torch.as_tensor(image[None], dtype=torch.float64))
    names = GATES[model.config.cell]
    return Trace(
        cell=model.config.cell,
        rows=image[None].astype(np.float64)[0],
        projected=out["projected"][0].numpy(),
        gates={g: out[g][0].numpy() for g in names},
        h=out["h"][0].numpy(),
        c=out["c"][0].numpy() if "c" in out else None,
        logits=out["logits"][0].numpy(),
        probs=torch.softmax(out["logits"][0], -1).numpy(),
        gate_names=names,
    )


def check_model(path: Path, image: np.ndarray, units, steps) -> None:
    loaded = load_checkpoint(path)
    cell, H = loaded.config.cell, loaded.config.hidden_size
    raw = load_file(str(path))
    trace = trace64(loaded.model, image)
    app_trace = trace_image(loaded.model, image)  # float32, as the app shows it
    for unit in units:
        for step in steps:
            us = unit_step(loaded.model, image, unit, step, trace=trace)
            h_prev = trace.h[step - 2].astype(np.float64) if step > 1 else np.zeros(H)
            ref = reference_pre(raw, cell, H, unit, image[step - 1].astype(np.float64), h_prev)
            for name, g in us.gates.items():
                parts = g.from_input + g.bias_ih + (1.0 if g.reset is None else g.reset) * (g.from_hidden + g.bias_hh)
                assert g.pre == pytest.approx(parts, abs=1e-9)
                assert g.pre == pytest.approx(ref[name], abs=1e-9)  # the checkpoint's own numbers
                assert g.from_input == pytest.approx(g.pixel_push.sum() + g.proj_bias, abs=1e-9)
                assert g.from_hidden == pytest.approx(g.hidden_push.sum(), abs=1e-12)
                act = np.tanh(g.pre) if g.activation == "tanh" else sigmoid(g.pre)
                assert g.value == pytest.approx(act, abs=1e-12)
                if cell != "rnn":  # the gates the model computed (float32)
                    assert g.value == pytest.approx(float(trace.gates[name][step - 1, unit]), abs=1e-6)
            # c_t and h_t recomputed in numpy from the inspector's terms
            if cell == "lstm":
                i, f, gg, o = (us.gates[n].value for n in GATES["lstm"])
                c_prev = float(trace.c[step - 2, unit]) if step > 1 else 0.0
                c = f * c_prev + i * gg
                assert us.kept == pytest.approx(f * c_prev, abs=1e-12) and us.written == pytest.approx(
                    i * gg, abs=1e-12
                )
                np.testing.assert_allclose(c, trace.c[step - 1, unit], atol=1e-6, rtol=1e-6)
                np.testing.assert_allclose(o * np.tanh(c), trace.h[step - 1, unit], atol=1e-6)
            elif cell == "gru":
                z, n = us.gates["update"].value, us.gates["candidate"].value
                np.testing.assert_allclose((1 - z) * n + z * h_prev[unit], trace.h[step - 1, unit], atol=1e-6)
            else:
                np.testing.assert_allclose(np.tanh(us.gates["state"].pre), trace.h[step - 1, unit], atol=1e-6)
            np.testing.assert_allclose(us.h, trace.h[step - 1, unit], atol=1e-6)
            app = unit_step(loaded.model, image, unit, step, trace=app_trace)  # from the float32 states
            np.testing.assert_allclose(app.h, app_trace.h[step - 1, unit], atol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
def test_terms_add_up_on_a_tiny_model(tmp_path, cell, test_split):
    path = tiny_checkpoint(tmp_path, cell)
    check_model(path, test_split.images[0].numpy(), range(12), range(1, 29))


@pytest.mark.parametrize("cell", CELLS)
def test_terms_add_up_on_the_shipped_model(cell, test_split):
    path = MODELS_DIR / f"{cell}.safetensors"
    if not path.exists():
        pytest.fail(f"{path} is missing")
    check_model(path, test_split.images[1].numpy(), range(0, 128, 9), (1, 5, 9, 14, 20, 28))


def test_reading_is_made_from_the_values(tmp_path, test_split):
    model = build_model(ModelConfig(hidden_size=8, embed_size=8, forget_bias=30.0), seed=1)
    image = test_split.images[0].numpy()
    us = unit_step(model, image, 3, 15)
    text = " ".join(reading(us))
    assert "The forget gate is 1.000: this unit keeps 100.0% of its memory" in text
    with torch.no_grad():
        model.rnn.bias_ih_l0[8:16] = -30.0
    us = unit_step(model, image, 3, 15)
    text = " ".join(reading(us))
    assert "The forget gate is 0.000: this unit keeps 0.0% of its memory" in text
    assert f"c = {us.kept:+.3f}" in text and f"{us.c:+.3f}" in text
    assert f"row 15 {'is blank' if not image[14].any() else 'has ink'}" in text.lower()


@pytest.mark.parametrize("cell", CELLS)
def test_equations_and_figures_show_the_numbers(tmp_path, cell, test_split):
    loaded = load_checkpoint(tiny_checkpoint(tmp_path, cell))
    image = test_split.images[2].numpy()
    us = unit_step(loaded.model, image, 4, 16)
    lines = equation_lines(us)
    assert len(lines) == {"lstm": 6, "gru": 4, "rnn": 1}[cell]
    for g in us.gates.values():
        assert any(f"{g.value:.3f}" in line and f"{g.from_input:+.3f}" in line for line in lines)
    assert f"{us.h:.3f}" in lines[-1]
    if cell == "lstm":
        assert f"{us.kept:+.3f}" in lines[-2] and f"{us.written:+.3f}" in lines[-2] and f"{us.c:.3f}" in lines[-2]
    assert f"{next(iter(us.gates.values())).proj_bias:+.3f}" in legend_line(us)
    strip = pixel_strip_figure(us)
    np.testing.assert_allclose(np.asarray(strip.data[0].z)[0], image[15])
    np.testing.assert_allclose(np.asarray(strip.data[1].z), np.stack([g.pixel_push for g in us.gates.values()]))
    top = top_hidden_figure(us, k=3)
    first = next(iter(us.gates.values()))
    np.testing.assert_allclose(sorted(np.abs(top.data[0].x)), sorted(np.abs(first.hidden_push))[-3:])


def test_bad_unit_or_step(tiny_model):
    image = np.zeros((28, 28), np.float32)
    with pytest.raises(ValueError, match="unit"):
        unit_step(tiny_model, image, 16, 3)
    with pytest.raises(ValueError, match="step"):
        unit_step(tiny_model, image, 0, 0)
