"""Introspection: the per-step internals of the model as plain numpy arrays.

The recurrence is unrolled by hand over the model's own weights, following torch.nn's
equations, so every gate is visible; tests check h and c against torch.nn.LSTM/GRU/RNN.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .model import GATES, RowClassifier


class UnsupportedModelError(ValueError):
    """The model's recurrent layer is of a kind this code does not handle (it would read the wrong weights)."""


def check_supported(model: RowClassifier, what: str = "the trace") -> None:
    """Refuse a recurrent layer that is not one plain layer: more than one layer, no bias, bidirectional,
    or an LSTM with torch's `proj_size` (a projected hidden state). Raises UnsupportedModelError."""
    rnn = model.rnn
    problems = []
    if getattr(rnn, "num_layers", 1) != 1:
        problems.append(f"{rnn.num_layers} stacked layers (only one is handled)")
    if not getattr(rnn, "bias", True):
        problems.append("no bias terms")
    if getattr(rnn, "bidirectional", False):
        problems.append("a bidirectional layer")
    if getattr(rnn, "proj_size", 0):
        problems.append(f"an LSTM projection of its hidden state (nn.LSTM proj_size={rnn.proj_size})")
    if not getattr(rnn, "batch_first", True):
        problems.append("a layer that is not batch_first")
    if problems:
        raise UnsupportedModelError(
            f"{what} handles one plain recurrent layer with biases; this model has " + ", ".join(problems) + "."
        )


@dataclass
class Trace:
    """Everything the model computed, step by step.

    Batched traces have a leading N axis; `trace_image` returns one without it:
    rows (T, 28), projected (T, P), gates[name] (T, H), c (T, H) or None, h (T, H),
    logits (T, 10), probs (T, 10).
    """

    cell: str
    rows: np.ndarray
    projected: np.ndarray
    gates: dict[str, np.ndarray]
    h: np.ndarray
    c: np.ndarray | None
    logits: np.ndarray
    probs: np.ndarray
    gate_names: tuple[str, ...] = field(default=())

    @property
    def n_steps(self) -> int:
        return int(self.h.shape[-2])

    @property
    def prediction(self) -> np.ndarray | int:
        """Predicted class after the last step (an int for a single image)."""
        pred = self.probs[..., -1, :].argmax(-1)
        return int(pred) if np.ndim(pred) == 0 else pred

    def item(self, i: int) -> Trace:
        """The trace of the i-th image of a batch."""
        return Trace(
            cell=self.cell,
            rows=self.rows[i],
            projected=self.projected[i],
            gates={k: v[i] for k, v in self.gates.items()},
            h=self.h[i],
            c=None if self.c is None else self.c[i],
            logits=self.logits[i],
            probs=self.probs[i],
            gate_names=self.gate_names,
        )


def _as_batch(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected images of shape (N, T, F) or (T, F), got {tuple(x.shape)}")
    return x


@torch.no_grad()
def unroll(model: RowClassifier, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the recurrence step by step: x (B, T, F) -> dict of (B, T, ·) tensors.

    Raises UnsupportedModelError for a recurrent layer it would misread (see check_supported)."""
    check_supported(model, "the step-by-step trace")
    cell = model.config.cell
    rnn = model.rnn
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0  # (G*H, P), (G*H, H)
    b_ih, b_hh = rnn.bias_ih_l0, rnn.bias_hh_l0  # (G*H,)
    B, T, _ = x.shape
    H = model.config.hidden_size
    xp = model.proj(x)  # (B, T, P)
    gx = xp @ w_ih.T + b_ih  # (B, T, G*H): the input part of every gate, all steps at once
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    hs, cs = [], []
    gate_steps: dict[str, list[torch.Tensor]] = {g: [] for g in GATES[cell]}
    for t in range(T):
        gh = h @ w_hh.T + b_hh  # (B, G*H)
        if cell == "lstm":
            i, f, g, o = (gx[:, t] + gh).chunk(4, dim=1)  # each (B, H)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            for name, v in zip(GATES[cell], (i, f, g, o), strict=False):
                gate_steps[name].append(v)
            cs.append(c)
        elif cell == "gru":
            xr, xz, xn = gx[:, t].chunk(3, dim=1)
            hr, hz, hn = gh.chunk(3, dim=1)
            r = (xr + hr).sigmoid()
            z = (xz + hz).sigmoid()
            n = (xn + r * hn).tanh()
            h = (1 - z) * n + z * h
            for name, v in zip(GATES[cell], (r, z, n), strict=False):
                gate_steps[name].append(v)
        else:
            h = (gx[:, t] + gh).tanh()
        hs.append(h)
    out = {"projected": xp, "h": torch.stack(hs, 1)}  # (B, T, H)
    if cs:
        out["c"] = torch.stack(cs, 1)
    for name, steps in gate_steps.items():
        out[name] = torch.stack(steps, 1)
    out["logits"] = model.head(out["h"])  # (B, T, 10)
    return out


def trace_batch(model: RowClassifier, images: torch.Tensor | np.ndarray) -> Trace:
    """Full per-step trace of a batch of images (N, 28, 28)."""
    x = _as_batch(images)
    model.eval()
    with torch.no_grad():
        out = unroll(model, x)
    names = GATES[model.config.cell]
    return Trace(
        cell=model.config.cell,
        rows=x.numpy(),
        projected=out["projected"].numpy(),
        gates={g: out[g].numpy() for g in names},
        h=out["h"].numpy(),
        c=out["c"].numpy() if "c" in out else None,
        logits=out["logits"].numpy(),
        probs=torch.softmax(out["logits"], -1).numpy(),
        gate_names=names,
    )


def trace_image(model: RowClassifier, image: torch.Tensor | np.ndarray) -> Trace:
    """Full per-step trace of one image (28, 28); arrays have no batch axis."""
    return trace_batch(model, _as_batch(image)).item(0)
