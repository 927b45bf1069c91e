"""What-if experiments: run the model step by step with a change, and compare with the plain run.

One function, `intervene(model, images, Intervention(...))`, covers every experiment and returns
a `Trace` of plain arrays like `trace_batch`:
- clamp the forget gate (LSTM f; for a GRU its keep gate, the update gate z) to a value from a
  step on, for all units or some ("forget everything" = 0, "never forget" = 1);
- silence units: their h (and c) held at 0 at every step, so they feed nothing forward;
- blank the rows after step k (the Truncation page's occlusion mode).
The loop is `trace.unroll`'s, operation for operation, so the identity intervention gives the
plain trace bit for bit. Steps are numbered 1..T (step k reads row k). No streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import GATES, RowClassifier
from .trace import Trace, _as_batch

FORGET_GATE = {"lstm": "forget", "gru": "update"}  # the gate whose value is the share of memory kept


@dataclass(frozen=True)
class Intervention:
    """A change to the run; the default changes nothing.

    clamp_forget: value the forget gate (GRU: update gate z) is held at, None for no clamp;
    clamp_from: first step (1..T) clamped; clamp_units: the units clamped, None for all;
    silence: units whose h and c are 0 at every step; blank_after: rows after this many are zeros.
    """

    clamp_forget: float | None = None
    clamp_from: int = 1
    clamp_units: tuple[int, ...] | None = None
    silence: tuple[int, ...] = ()
    blank_after: int | None = None

    @property
    def is_identity(self) -> bool:
        return self.clamp_forget is None and not self.silence and self.blank_after is None

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
            parts.append(f"{gate} = {self.clamp_forget:g} from step {self.clamp_from} ({who})")
        if self.silence:
            parts.append(
                ("unit " if len(self.silence) == 1 else "units ") + ", ".join(map(str, self.silence)) + " silenced"
            )
        if self.blank_after is not None:
            parts.append("every row blanked" if self.blank_after == 0 else f"rows after {self.blank_after} blanked")
        return "; ".join(parts) or "no change"


def _check(model: RowClassifier, iv: Intervention, n_steps: int) -> None:
    H, cell = model.config.hidden_size, model.config.cell
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
    """The per-step trace of images (N, T, F) (or one (T, F), kept batched) under an intervention."""
    x = _as_batch(images)  # (B, T, F)
    B, T, _ = x.shape
    _check(model, iv, T)
    model.eval()
    cell, H = model.config.cell, model.config.hidden_size
    if iv.blank_after is not None:
        x = x.clone()
        x[:, iv.blank_after :] = 0.0
    keep = None
    if iv.silence:
        keep = torch.ones(H)
        keep[list(iv.silence)] = 0.0  # (H,) 0 for the silenced units
    clamp = None
    if iv.clamp_forget is not None:
        clamp = torch.zeros(H, dtype=torch.bool)
        clamp[list(iv.clamp_units) if iv.clamp_units is not None else slice(None)] = True  # (H,)
        value = torch.tensor(float(iv.clamp_forget))

    # the loop of trace.unroll, with the changes applied where they bite
    rnn = model.rnn
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0  # (G*H, P), (G*H, H)
    b_ih, b_hh = rnn.bias_ih_l0, rnn.bias_hh_l0  # (G*H,)
    xp = model.proj(x)  # (B, T, P)
    gx = xp @ w_ih.T + b_ih  # (B, T, G*H)
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    hs, cs = [], []
    gate_steps: dict[str, list[torch.Tensor]] = {g: [] for g in GATES[cell]}
    for t in range(T):
        clamped = clamp is not None and t + 1 >= iv.clamp_from
        gh = h @ w_hh.T + b_hh  # (B, G*H)
        if cell == "lstm":
            i, f, g, o = (gx[:, t] + gh).chunk(4, dim=1)  # each (B, H)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            if clamped:
                f = torch.where(clamp, value, f)
            c = f * c + i * g
            if keep is not None:
                c = c * keep
            h = o * c.tanh()
            for name, v in zip(GATES[cell], (i, f, g, o), strict=False):
                gate_steps[name].append(v)
            cs.append(c)
        elif cell == "gru":
            xr, xz, xn = gx[:, t].chunk(3, dim=1)
            hr, hz, hn = gh.chunk(3, dim=1)
            r = (xr + hr).sigmoid()
            z = (xz + hz).sigmoid()
            if clamped:
                z = torch.where(clamp, value, z)
            n = (xn + r * hn).tanh()
            h = (1 - z) * n + z * h
            for name, v in zip(GATES[cell], (r, z, n), strict=False):
                gate_steps[name].append(v)
        else:
            h = (gx[:, t] + gh).tanh()
        if keep is not None:
            h = h * keep
        hs.append(h)
    hh = torch.stack(hs, 1)  # (B, T, H)
    logits = model.head(hh)  # (B, T, 10)
    names = GATES[cell]
    return Trace(
        cell=cell,
        rows=x.numpy(),
        projected=xp.numpy(),
        gates={g: torch.stack(gate_steps[g], 1).numpy() for g in names},
        h=hh.numpy(),
        c=torch.stack(cs, 1).numpy() if cs else None,
        logits=logits.numpy(),
        probs=torch.softmax(logits, -1).numpy(),
        gate_names=names,
    )


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
