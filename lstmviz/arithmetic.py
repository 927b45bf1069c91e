"""The arithmetic of one unit at one step, with the model's real numbers.

`unit_step(model, image, unit, step)` takes the state the model actually had before step k
(from its trace) and recomputes that unit's equations in float64 numpy from the weights,
term by term, following torch.nn's conventions:

- LSTM: i, f, g, o = σ/tanh(W_ih·x̃_t + b_ih + W_hh·h_{t−1} + b_hh); c_t = f·c_{t−1} + i·g
  (kept memory + written memory); h_t = o·tanh(c_t).
- GRU: r, z = σ(W_ih·x̃_t + b_ih + W_hh·h_{t−1} + b_hh); n = tanh(W_in·x̃_t + b_in + r·(W_hn·h_{t−1} + b_hn));
  h_t = (1 − z)·n + z·h_{t−1} (written + kept).
- RNN: h_t = tanh(W_ih·x̃_t + b_ih + W_hh·h_{t−1} + b_hh).

In layer 0, x̃_t = W_proj·x_t + b_proj is the projected row, so the input part of a gate splits further into
28 pixel pushes (the effective pixel weights W_ih[unit]·W_proj times the pixels) plus the
projection bias's share W_ih[unit]·b_proj. In a stacked model, layer k > 0 reads x̃_t = h_t of layer k − 1
instead (its W_ih is (G*H, H)): the input part splits into the pushes of the units below (`input_push`),
and there are no pixel weights (`pixel_*` and `proj_bias` are None). `unit_step(..., layer=k)` picks the
layer (default: the top one, which the readout reads; only there is `readout` set). Steps are numbered 1..T
as in the app (step k reads row k); layers are counted from 1 in the sentences. `reading(us)` turns the
numbers into sentences. Plain numpy; no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import GATES, RowClassifier
from .trace import Trace, check_supported, layer_weights, n_layers, resolve_layer, trace_image

SYMBOLS: dict[str, dict[str, str]] = {
    "lstm": {"input": "i", "forget": "f", "candidate": "g", "output": "o"},
    "gru": {"reset": "r", "update": "z", "candidate": "n"},
    "rnn": {"state": "h"},
}
TANH_GATES = {("lstm", "candidate"), ("gru", "candidate"), ("rnn", "state")}
TOP_K = 5


@dataclass
class GateTerms:
    """One gate of one unit at one step (for an RNN, the new state itself).

    pre = from_input + bias_ih + reset·(from_hidden + bias_hh), reset = 1 except the GRU's n;
    from_input = input_push.sum() (layer 0: also pixel_push.sum() + proj_bias); hidden_push (H,) are the
    terms of from_hidden. Above layer 0 the input is the layer below's h: pixel_* and proj_bias are None.
    """

    name: str
    symbol: str
    activation: str  # "sigmoid" or "tanh"
    from_input: float
    from_hidden: float
    bias_ih: float
    bias_hh: float
    reset: float | None
    pre: float
    value: float
    pixel_weights: np.ndarray | None  # (F,) effective weight of each pixel of the row (layer 0 only)
    pixel_push: np.ndarray | None  # (F,) pixel_weights * row (layer 0 only)
    proj_bias: float | None  # W_ih[unit] · b_proj: the part of from_input no pixel controls (layer 0 only)
    hidden_push: np.ndarray  # (H,) W_hh[unit, j] * h_{t-1}[j]
    input_push: np.ndarray | None = None  # (P or H,) W_ih[unit, j] * x̃_t[j]: layer 0 the row embedding, else h below

    @property
    def bias(self) -> float:
        return self.bias_ih + self.bias_hh

    @property
    def recurrent(self) -> float:
        """What the previous state adds to the pre-activation (for the GRU's n: r·(W_hn·h + b_hn), its bias included)."""
        return self.from_hidden if self.reset is None else self.reset * (self.from_hidden + self.bias_hh)

    def top_hidden(self, k: int = TOP_K) -> list[tuple[int, float]]:
        """The k units j of h_{t−1} with the largest |W_hh[unit, j]·h_{t−1}[j]|: [(j, push), ...]."""
        return _top(self.hidden_push, k)

    def top_input(self, k: int = TOP_K) -> list[tuple[int, float]]:
        """The k inputs j (above layer 0: units of the layer below) with the largest |W_ih[unit, j]·x̃_t[j]|."""
        return [] if self.input_push is None else _top(self.input_push, k)


def _top(push: np.ndarray, k: int) -> list[tuple[int, float]]:
    order = np.argsort(-np.abs(push), kind="stable")[:k]
    return [(int(j), float(push[j])) for j in order if push[j] != 0]


@dataclass
class UnitStep:
    """Unit `unit` at step `step` (1..T): its gates, the state before and after, and what the readout gets."""

    cell: str
    unit: int
    step: int
    row: np.ndarray  # (F,) the pixels read at this step
    gates: dict[str, GateTerms]
    h_prev: float
    h: float
    c_prev: float | None = None
    c: float | None = None
    kept: float | None = None  # LSTM f·c_{t−1}; GRU z·h_{t−1}
    written: float | None = None  # LSTM i·g; GRU (1 − z)·n
    tanh_c: float | None = None
    h_prev_all: np.ndarray | None = None  # (H,)
    readout: np.ndarray | None = None  # (10,) W_head[:, unit]·h_t (top layer only): push on each class's logit
    layer: int = 0  # which layer of the stack (0 = the one reading the rows)
    n_layers: int = 1
    x_in: np.ndarray | None = None  # (P or H,) the layer's input at this step: embedded row, or h of the layer below

    def gate(self, symbol: str) -> GateTerms:
        return next(g for g in self.gates.values() if g.symbol == symbol)


def _sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def model_weights(model: RowClassifier, layer: int | None = None) -> dict[str, np.ndarray]:
    """The parameters of the model around one recurrent layer (default: the top one) as float64 numpy arrays,
    named as in the equations; "layer" holds the layer's index (0-d)."""
    check_supported(model, "the unit inspector")
    k = resolve_layer(layer, n_layers(model))
    w_ih, w_hh, b_ih, b_hh = layer_weights(model, k)

    def a(t) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float64)

    return {
        "layer": np.array(k),
        "w_proj": a(model.proj.weight),
        "b_proj": a(model.proj.bias),  # (P, F), (P,)
        "w_ih": a(w_ih),
        "w_hh": a(w_hh),  # (G*H, P) in layer 0, (G*H, H) above; (G*H, H)
        "b_ih": a(b_ih),
        "b_hh": a(b_hh),  # (G*H,)
        "w_head": a(model.head.weight),
        "b_head": a(model.head.bias),  # (10, H), (10,)
    }


def effective_pixel_weights(weights: dict[str, np.ndarray], rows: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """For gate rows r of layer 0's W_ih: (W_ih[r] @ W_proj (…, F), W_ih[r] @ b_proj (…)): pixel weights and the
    bias share. Above layer 0 there are none (the layer reads the layer below): ValueError."""
    if int(weights.get("layer", 0)) != 0:
        raise ValueError("only layer 0 reads the pixels; a layer above reads the hidden state of the layer below")
    w = weights["w_ih"][rows]  # (…, P)
    return w @ weights["w_proj"], w @ weights["b_proj"]


def unit_step(
    model: RowClassifier,
    image: np.ndarray,
    unit: int,
    step: int,
    trace: Trace | None = None,
    weights: dict[str, np.ndarray] | None = None,
    layer: int | None = None,
) -> UnitStep:
    """The equations of `unit` of layer `layer` at step `step` (1..T) with their numbers, from the model's
    weights. `layer` None: the layer the given trace shows (`trace.layer`), without a trace the top one.

    The state before the step is the one the model had (the trace's h_{t−1}, c_{t−1} of that layer); pass the
    image's trace to save the unroll, and `model_weights(model, layer)` to save the copy."""
    cell, H = model.config.cell, model.config.hidden_size
    check_supported(model, "the unit inspector")
    trace = trace if trace is not None else trace_image(model, image)
    if trace.n_layers != n_layers(model):
        raise ValueError(f"the trace has {trace.n_layers} layers, the model {n_layers(model)}")
    k = resolve_layer(trace.layer if layer is None else layer, n_layers(model))
    trace = trace.at_layer(k)
    T = trace.n_steps
    if not 0 <= unit < H:
        raise ValueError(f"unit must be in 0..{H - 1}, not {unit}")
    if not 1 <= step <= T:
        raise ValueError(f"step must be in 1..{T}, not {step}")
    w = weights if weights is not None else model_weights(model, k)
    if int(w.get("layer", 0)) != k:
        raise ValueError(f"the weights given are those of layer {int(w['layer'])}, not of layer {k}")
    row = np.asarray(trace.rows[step - 1], np.float64)  # (F,)
    h_prev_all = np.asarray(trace.h[step - 2], np.float64) if step > 1 else np.zeros(H)  # (H,)
    if k == 0:
        x_proj = w["w_proj"] @ row + w["b_proj"]  # (P,) the embedded row, recomputed in float64
    else:
        x_proj = np.asarray(trace.layer_input[step - 1], np.float64)  # (H,) h_t of the layer below
    names = GATES[cell] or ("state",)
    gates: dict[str, GateTerms] = {}
    for gi, name in enumerate(names):
        r_ = gi * H + unit  # this unit's row in the stacked gate matrices
        pix_w, proj_b = effective_pixel_weights(w, r_) if k == 0 else (None, None)
        hidden_push = w["w_hh"][r_] * h_prev_all  # (H,)
        input_push = w["w_ih"][r_] * x_proj  # (P or H,)
        from_input, from_hidden = float(w["w_ih"][r_] @ x_proj), float(hidden_push.sum())
        b_ih, b_hh = float(w["b_ih"][r_]), float(w["b_hh"][r_])
        reset = gates["reset"].value if (cell, name) == ("gru", "candidate") else None
        pre = from_input + b_ih + (1.0 if reset is None else reset) * (from_hidden + b_hh)
        tanh = (cell, name) in TANH_GATES
        gates[name] = GateTerms(
            name=name,
            symbol=SYMBOLS[cell][name],
            activation="tanh" if tanh else "sigmoid",
            from_input=from_input,
            from_hidden=from_hidden,
            bias_ih=b_ih,
            bias_hh=b_hh,
            reset=reset,
            pre=pre,
            value=float(np.tanh(pre) if tanh else _sigmoid(pre)),
            pixel_weights=pix_w,
            pixel_push=None if pix_w is None else pix_w * row,
            proj_bias=None if proj_b is None else float(proj_b),
            hidden_push=hidden_push,
            input_push=input_push,
        )
    h_prev = float(h_prev_all[unit])
    us = UnitStep(
        cell=cell,
        unit=unit,
        step=step,
        row=row,
        gates=gates,
        h_prev=h_prev,
        h=0.0,
        h_prev_all=h_prev_all,
        layer=k,
        n_layers=trace.n_layers,
        x_in=x_proj,
    )
    if cell == "lstm":
        i, f, g, o = (gates[n].value for n in names)
        us.c_prev = float(trace.c[step - 2, unit]) if step > 1 else 0.0
        us.kept, us.written = f * us.c_prev, i * g
        us.c = us.kept + us.written
        us.tanh_c = float(np.tanh(us.c))
        us.h = o * us.tanh_c
    elif cell == "gru":
        z, n = gates["update"].value, gates["candidate"].value
        us.kept, us.written = z * h_prev, (1.0 - z) * n
        us.h = us.kept + us.written
    else:
        us.h = gates["state"].value
    if k == trace.n_layers - 1:  # only the top layer feeds the readout
        us.readout = w["w_head"][:, unit] * us.h
    return us


# ---------------------------------------------------------------- plain-language reading


def _g(v: float) -> str:
    """A gate value: two decimals, three near 0 or 1 (so 0.996 does not read as 1.00)."""
    return f"{v:.2f}" if 0.01 <= v <= 0.99 else f"{v:.3f}"


def _pct(v: float) -> str:
    return f"{v:.0%}" if 0.01 <= v <= 0.99 else f"{v:.1%}"


def _share(p: float) -> str:
    if p < 0.1:
        return "barely"
    if p < 0.35:
        return "a little"
    if p < 0.65:
        return "partly"
    if p < 0.9:
        return "mostly"
    return "almost fully"


def _driver(g: GateTerms) -> str:
    """Which of the three parts moves this gate most."""
    parts = {
        "the row": g.from_input,
        "the previous hidden state": g.recurrent,
        "its bias": g.bias_ih + (g.bias_hh if g.reset is None else 0.0),
    }
    name, value = max(parts.items(), key=lambda kv: abs(kv[1]))
    way = "opens" if value > 0 else "closes"
    if g.activation == "tanh":
        way = "pushes it up" if value > 0 else "pushes it down"
        return f"{name} {way} most ({value:+.2f} of {g.pre:+.2f})"
    return f"{name} {way} it most ({value:+.2f} of {g.pre:+.2f})"


def _row_words(us: UnitStep) -> str:
    ink = float(us.row.sum())
    return f"row {us.step} is blank" if ink == 0 else f"row {us.step} has ink in {int((us.row > 0.1).sum())} pixels"


def _pixel_words(us: UnitStep, g: GateTerms) -> str | None:
    push = g.pixel_push
    if not np.any(push):
        return None
    j = int(np.argmax(np.abs(push)))
    return f"pixel {j} of the row pushes {g.symbol} {'up' if push[j] > 0 else 'down'} most ({push[j]:+.2f})"


def _sum(a: float, b: float) -> str:
    """'+0.317 + 0.594' / '+0.317 − 0.594'."""
    return f"{a:+.3f} {'+' if b >= 0 else '−'} {abs(b):.3f}"


def reading(us: UnitStep) -> list[str]:
    """A few sentences that read this unit's numbers at this step, generated from the values."""
    s: list[str] = []
    row = _row_words(us)
    if us.cell == "lstm":
        i, f, g, o = (us.gates[n] for n in GATES["lstm"])
        s.append(
            f"The forget gate is {_g(f.value)}: this unit keeps {_pct(f.value)} of its memory "
            f"(c goes from {us.c_prev:+.3f} to {us.kept:+.3f} before anything is written); {_driver(f)}."
        )
        s.append(
            f"The input gate is {_g(i.value)}: row {us.step} {_share(i.value)} writes into it; "
            f"the candidate is {g.value:+.2f}, so the written memory is i·g = {us.written:+.3f}."
        )
        bigger = "the kept memory" if abs(us.kept) >= abs(us.written) else "the newly written memory"
        s.append(f"The new memory c = {_sum(us.kept, us.written)} = {us.c:+.3f} is mostly {bigger}.")
        s.append(
            f"The output gate is {_g(o.value)}: h shows {_pct(o.value)} of tanh(c) = {us.tanh_c:+.3f}, "
            f"so h = {us.h:+.3f}."
        )
        focus = i
    elif us.cell == "gru":
        r, z, n = (us.gates[k] for k in GATES["gru"])
        s.append(
            f"The update gate is {_g(z.value)}: this unit keeps {_pct(z.value)} of its previous value "
            f"({us.h_prev:+.3f}) and takes {_pct(1 - z.value)} of the candidate; {_driver(z)}."
        )
        s.append(
            f"The reset gate is {_g(r.value)}: the candidate sees {_pct(r.value)} of what the previous state "
            f"says about it ({r.from_hidden + r.bias_hh:+.2f} before the gate, {n.recurrent:+.2f} after)."
        )
        s.append(f"The candidate is n = {n.value:+.3f}; {_driver(n)}.")
        s.append(f"So h = {_sum(us.kept, us.written)} (kept + new) = {us.h:+.3f}.")
        focus = n
    else:
        g = us.gates["state"]
        s.append(
            f"A plain RNN has no gate: h is rewritten at every step, h = tanh({g.pre:+.2f}) = {us.h:+.3f}; "
            f"{_driver(g)}."
        )
        s.append(
            f"The previous value {us.h_prev:+.3f} counts only through the recurrent weights "
            f"({g.from_hidden:+.2f} in total), so old information fades unless it is rewritten."
        )
        focus = g
    if us.layer == 0:
        pixel = _pixel_words(us, focus)
        s.append(
            f"{row[0].upper() + row[1:]}"
            + (
                f"; {pixel}."
                if pixel
                else f": only the projection bias's share ({focus.proj_bias:+.2f}) reaches {focus.symbol} from the "
                "input."
            )
        )
    else:
        below = focus.top_input(1)
        s.append(
            f"Layer {us.layer + 1} does not see the pixels: it reads layer {us.layer}'s hidden state at step {us.step}"
            + (
                f"; unit {below[0][0]} of layer {us.layer} (h = {us.x_in[below[0][0]]:+.2f}) moves {focus.symbol} "
                f"most ({below[0][1]:+.2f})."
                if below
                else f", which is all zero here ({focus.symbol} gets only its bias)."
            )
        )
    top = focus.top_hidden(1)
    if top:
        j, v = top[0]
        s.append(
            f"Of the previous hidden state, unit {j} (h = {us.h_prev_all[j]:+.2f}) moves {focus.symbol} most "
            f"({v:+.2f})."
        )
    if us.readout is None:
        s.append(
            f"This unit does not reach the readout directly: layer {us.layer + 2} reads it, "
            f"and the readout reads layer {us.n_layers}."
        )
    else:
        c = int(np.argmax(np.abs(us.readout)))
        s.append(
            f"Read out now, this unit would push the score of digit {c} {'up' if us.readout[c] > 0 else 'down'} "
            f"by {abs(us.readout[c]):.2f}."
        )
    return s
