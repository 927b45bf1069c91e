"""What-if experiments: run the model step by step with a change, and compare with the plain run.

One function, `intervene(model, images, Intervention(...))`, covers every experiment and returns
a `Trace` of plain arrays like `trace_batch`:
- clamp the forget gate (LSTM f; for a GRU its keep gate, the update gate z) to a value from a
  step on, for all units or some ("forget everything" = 0, "never forget" = 1);
- silence units: their h (and c) held at 0 at every step, so they feed nothing forward;
- blank the rows after step k (the Truncation page's occlusion mode).
The loop is `trace.unroll`'s (`trace.run_layer`, layer by layer), so the identity intervention gives the
plain trace bit for bit. In a stacked model the clamp and the silencing act on one layer (`layer`, default
the top one); the layers above read its changed h. Steps are numbered 1..T (step k reads row k). No streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import RowClassifier
from .trace import (
    Trace,
    _as_batch,
    check_supported,
    layer_weights,
    n_layers,
    resolve_layer,
    run_layer,
    stack_layers,
    trace_from,
)

FORGET_GATE = {"lstm": "forget", "gru": "update"}  # the gate whose value is the share of memory kept


@dataclass(frozen=True)
class Intervention:
    """A change to the run; the default changes nothing.

    clamp_forget: value the forget gate (GRU: update gate z) is held at, None for no clamp;
    clamp_from: first step (1..T) clamped; clamp_units: the units clamped, None for all;
    silence: units whose h and c are 0 at every step; blank_after: rows after this many are zeros;
    layer: the layer of a stacked model whose units are clamped or silenced (None: the top layer).
    """

    clamp_forget: float | None = None
    clamp_from: int = 1
    clamp_units: tuple[int, ...] | None = None
    silence: tuple[int, ...] = ()
    blank_after: int | None = None
    layer: int | None = None

    @property
    def is_identity(self) -> bool:
        return self.clamp_forget is None and not self.silence and self.blank_after is None

    def _where(self) -> str:
        """ " of layer k" (layers counted from 1 in words) when a layer was chosen, else ""."""
        if self.layer is None:
            return ""
        return f" of layer {self.layer + 1}" if self.layer >= 0 else f" of layer {self.layer} (from the top)"

    def describe(self, cell: str = "lstm") -> str:
        """A short label of the experiment, e.g. "forget gate = 0 from step 10 (all units)"."""
        parts = []
        if self.clamp_forget is not None:
            gate = "update gate z" if cell == "gru" else "forget gate"
            who = (
                "all units"
                if self.clamp_units is None
                else "unit" + ("s " if len(self.clamp_units) > 1 else " ") + ", ".join(map(str, self.clamp_units))
            )
            parts.append(f"{gate} = {self.clamp_forget:g} from step {self.clamp_from} ({who}{self._where()})")
        if self.silence:
            parts.append(
                ("unit " if len(self.silence) == 1 else "units ")
                + ", ".join(map(str, self.silence))
                + self._where()
                + " silenced"
            )
        if self.blank_after is not None:
            parts.append("every row blanked" if self.blank_after == 0 else f"rows after {self.blank_after} blanked")
        return "; ".join(parts) or "no change"


def _check(model: RowClassifier, iv: Intervention, n_steps: int) -> None:
    H, cell = model.config.hidden_size, model.config.cell
    resolve_layer(iv.layer, n_layers(model))  # ValueError for a layer the model does not have
    units = list(iv.silence) + list(iv.clamp_units or ())
    bad = [u for u in units if not (isinstance(u, (int, np.integer)) and 0 <= u < H)]
    if bad:
        raise ValueError(f"units must be in 0..{H - 1}, not {bad}")
    if iv.clamp_forget is not None:
        if cell not in FORGET_GATE:
            raise ValueError("a plain RNN has no forget gate to clamp")
        if not 0.0 <= float(iv.clamp_forget) <= 1.0:
            raise ValueError(f"a gate value must be from 0 to 1, not {iv.clamp_forget}")
        if not 1 <= iv.clamp_from <= n_steps:
            raise ValueError(f"clamp_from must be a step in 1..{n_steps}, not {iv.clamp_from}")
    if iv.blank_after is not None and not 0 <= iv.blank_after <= n_steps:
        raise ValueError(f"blank_after must be in 0..{n_steps}, not {iv.blank_after}")


@torch.no_grad()
def intervene(model: RowClassifier, images: torch.Tensor | np.ndarray, iv: Intervention = Intervention()) -> Trace:
    """The per-step trace of images (N, T, F) (or one (T, F), kept batched) under an intervention.

    The clamp and the silencing bite in layer `iv.layer` (default: the top layer) of a stacked model; the
    layers above it read its changed h. The Trace shows that layer (`trace.layer == iv.layer`)."""
    check_supported(model, "an experiment on the model")
    x = _as_batch(images)  # (B, T, F)
    B, T, _ = x.shape
    _check(model, iv, T)
    model.eval()
    cell, H = model.config.cell, model.config.hidden_size
    target = resolve_layer(iv.layer, n_layers(model))
    if iv.blank_after is not None:
        x = x.clone()
        x[:, iv.blank_after :] = 0.0
    state_edit = None
    if iv.silence:
        keep = torch.ones(H)
        keep[list(iv.silence)] = 0.0  # (H,) 0 for the silenced units
        state_edit = lambda v: v * keep  # noqa: E731
    gate_edit = None
    if iv.clamp_forget is not None:
        clamp = torch.zeros(H, dtype=torch.bool)
        clamp[list(iv.clamp_units) if iv.clamp_units is not None else slice(None)] = True  # (H,)
        value = torch.tensor(float(iv.clamp_forget))
        gate_edit = lambda t, gate: torch.where(clamp, value, gate) if t + 1 >= iv.clamp_from else gate  # noqa: E731

    # trace.unroll's layers, with the changes applied where they bite in the target layer
    xp = model.proj(x)  # (B, T, P)
    per_layer, xin = [], xp
    for k in range(n_layers(model)):
        edits = (gate_edit, state_edit) if k == target else (None, None)
        per_layer.append(run_layer(cell, layer_weights(model, k), xin, *edits))
        xin = per_layer[-1]["h"]
    out = stack_layers(cell, per_layer)
    out["projected"] = xp
    out["logits"] = model.head(out["h"])  # (B, T, 10)
    return trace_from(cell, x, out).at_layer(target)


def intervene_image(model: RowClassifier, image: np.ndarray, iv: Intervention = Intervention()) -> Trace:
    """`intervene` for one image (T, F): arrays without the batch axis."""
    return intervene(model, image, iv).item(0)


@dataclass(frozen=True)
class AnswerChange:
    """The final answer before and after an experiment."""

    before: int
    p_before: float
    after: int
    p_after: float
    p_before_now: float  # the probability of the original answer after the experiment

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def sentence(self) -> str:
        if self.changed:
            return (
                f"The answer changes from {self.before} (p={self.p_before:.2f}) to {self.after} (p={self.p_after:.2f})."
            )
        return f"The answer stays {self.before}: p={self.p_before:.2f} before, p={self.p_after:.2f} after."


def answer_change(before: Trace, after: Trace) -> AnswerChange:
    """Compare the final answers of two single-image traces."""
    a, b = int(before.probs[-1].argmax()), int(after.probs[-1].argmax())
    return AnswerChange(a, float(before.probs[-1, a]), b, float(after.probs[-1, b]), float(after.probs[-1, a]))
