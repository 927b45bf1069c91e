"""Introspection: the per-step internals of the model as plain numpy arrays.

The recurrence is unrolled by hand over the model's own weights, following torch.nn's
equations, so every gate is visible; tests check every layer's gates, c and h against
torch.nn.LSTM/GRU/RNN(num_layers=1..3).

Trace API (a stacked model has L = 1..3 layers; layer 0 reads the row embedding, layer k > 0 reads
h of layer k - 1, the readout reads the top layer L - 1):
- `trace_batch(model, images (N, T, 28)) -> Trace`, `trace_image(model, image (T, 28)) -> Trace`.
- `Trace.h`, `.c`, `.gates[name]`: (N, T, H) (no N for one image) of the layer `Trace.layer` (default:
  the top, L - 1, so a view written for one layer shows what the readout reads). `.c` is None for a
  GRU/RNN. `.rows` (T, 28), `.projected` (T, P) (the embedded rows, layer 0's input), `.logits` and
  `.probs` (T, 10) (read from the top layer whatever `.layer` is).
- `Trace.n_layers` (L), `Trace.layer` (0..L-1), `Trace.stack_h` (L, [N,] T, H), `Trace.stack_c`
  (L, [N,] T, H) or None, `Trace.stack_gates[name]` (L, [N,] T, H).
- `Trace.at_layer(l)`: the same trace with h/c/gates of layer l (negative l counts from the top).
- `Trace.layer_input`: the selected layer's input sequence: `projected` (T, P) for layer 0, else h of the
  layer below (T, H).
- `Trace.item(i)`: the i-th image of a batch, with all of the above.
- `check_supported(model)`: refuses what the trace would misread (more than MAX_LAYERS layers, no bias,
  bidirectional, nn.LSTM proj_size, not batch_first) with an UnsupportedModelError (a ValueError).
- `layer_weights(model, l)`: (w_ih, w_hh, b_ih, b_hh) of layer l, for code that recomputes a layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .model import GATES, MAX_LAYERS, RowClassifier


class UnsupportedModelError(ValueError):
    """The model's recurrent layer is of a kind this code does not handle (it would read the wrong weights)."""


def check_supported(model: RowClassifier, what: str = "the trace") -> None:
    """Refuse a recurrent layer this code would misread: more than MAX_LAYERS stacked layers, no bias,
    bidirectional, an LSTM with torch's `proj_size` (a projected hidden state), or not batch_first.
    Raises UnsupportedModelError."""
    rnn = model.rnn
    problems = []
    n = getattr(rnn, "num_layers", 1)
    if not 1 <= n <= MAX_LAYERS:
        problems.append(f"{n} stacked layers (1 to {MAX_LAYERS} are handled)")
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
            f"{what} handles 1 to {MAX_LAYERS} plain stacked recurrent layers with biases; this model has "
            + ", ".join(problems)
            + "."
        )


def n_layers(model: RowClassifier) -> int:
    """How many stacked recurrent layers the model has."""
    return int(getattr(model.rnn, "num_layers", 1))


def resolve_layer(layer: int | None, n: int) -> int:
    """A layer index in 0..n-1 from None (the top layer), 0..n-1 or -n..-1; ValueError otherwise."""
    if layer is None:
        return n - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -n <= layer < n:
        raise ValueError(f"layer must be one of 0..{n - 1} (this model has {n} layer{'s' * (n > 1)}), not {layer!r}")
    return int(layer) % n


def layer_weights(model: RowClassifier, layer: int) -> tuple[torch.Tensor, ...]:
    """(w_ih (G*H, P or H), w_hh (G*H, H), b_ih (G*H,), b_hh (G*H,)) of one layer of the recurrent stack."""
    rnn = model.rnn
    return tuple(getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


@dataclass
class Trace:
    """Everything the model computed, step by step (the API is in the module docstring).

    Batched traces have a leading N axis; `trace_image` returns one without it:
    rows (T, 28), projected (T, P), gates[name] (T, H), c (T, H) or None, h (T, H),
    logits (T, 10), probs (T, 10); h, c, gates are those of layer `layer` (default the top one).
    stack_h (L, T, H), stack_c (L, T, H) or None, stack_gates[name] (L, T, H) hold every layer.
    A Trace built without the stack_* fields is a one-layer trace.
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
    n_layers: int = 0  # 0: filled in from stack_h
    layer: int | None = None  # None: the top layer
    stack_h: np.ndarray | None = None
    stack_c: np.ndarray | None = None
    stack_gates: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.stack_h is None:  # a one-layer trace given by its h, c and gates
            self.stack_h = self.h[None]
            self.stack_c = None if self.c is None else self.c[None]
            self.stack_gates = {k: v[None] for k, v in self.gates.items()}
        if self.stack_gates is None:
            self.stack_gates = {}
        self.n_layers = int(self.stack_h.shape[0])
        self.layer = resolve_layer(self.layer, self.n_layers)

    @property
    def n_steps(self) -> int:
        return int(self.h.shape[-2])

    @property
    def prediction(self) -> np.ndarray | int:
        """Predicted class after the last step (an int for a single image)."""
        pred = self.probs[..., -1, :].argmax(-1)
        return int(pred) if np.ndim(pred) == 0 else pred

    @property
    def layer_input(self) -> np.ndarray:
        """The input sequence of the selected layer: projected ([N,] T, P) for layer 0, else h of the layer below
        ([N,] T, H)."""
        return self.projected if self.layer == 0 else self.stack_h[self.layer - 1]

    def at_layer(self, layer: int) -> Trace:
        """The same trace with h, c and gates of layer `layer` (0 = the first, -1 = the top)."""
        k = resolve_layer(layer, self.n_layers)
        return replace(
            self,
            layer=k,
            h=self.stack_h[k],
            c=None if self.stack_c is None else self.stack_c[k],
            gates={name: v[k] for name, v in self.stack_gates.items()},
        )

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
            layer=self.layer,
            stack_h=self.stack_h[:, i],
            stack_c=None if self.stack_c is None else self.stack_c[:, i],
            stack_gates={k: v[:, i] for k, v in self.stack_gates.items()},
        )


def _as_batch(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected images of shape (N, T, F) or (T, F), got {tuple(x.shape)}")
    return x


# An edit of one layer's step (see intervene.py): gate_edit(t, keep_gate) -> keep_gate changes the LSTM's
# forget gate / the GRU's update gate at step t (0-based); state_edit(v) -> v changes the new c and h.
GateEdit = Callable[[int, torch.Tensor], torch.Tensor]
StateEdit = Callable[[torch.Tensor], torch.Tensor]


def run_layer(
    cell: str,
    weights: tuple[torch.Tensor, ...],
    xin: torch.Tensor,
    gate_edit: GateEdit | None = None,
    state_edit: StateEdit | None = None,
) -> dict[str, torch.Tensor]:
    """One recurrent layer from the zero state over its input xin (B, T, P or H): -> {"h", "c" (LSTM),
    gate names} of (B, T, H) each. The edits (None: the plain layer) are applied where they bite."""
    w_ih, w_hh, b_ih, b_hh = weights  # (G*H, P), (G*H, H), (G*H,), (G*H,)
    B, T, _ = xin.shape
    H = w_hh.shape[1]
    gx = xin @ w_ih.T + b_ih  # (B, T, G*H): the input part of every gate, all steps at once
    h = xin.new_zeros(B, H)
    c = xin.new_zeros(B, H)
    hs, cs = [], []
    gate_steps: dict[str, list[torch.Tensor]] = {g: [] for g in GATES[cell]}
    for t in range(T):
        gh = h @ w_hh.T + b_hh  # (B, G*H)
        if cell == "lstm":
            i, f, g, o = (gx[:, t] + gh).chunk(4, dim=1)  # each (B, H)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            if gate_edit is not None:
                f = gate_edit(t, f)
            c = f * c + i * g
            if state_edit is not None:
                c = state_edit(c)
            h = o * c.tanh()
            for name, v in zip(GATES[cell], (i, f, g, o), strict=False):
                gate_steps[name].append(v)
            cs.append(c)
        elif cell == "gru":
            xr, xz, xn = gx[:, t].chunk(3, dim=1)
            hr, hz, hn = gh.chunk(3, dim=1)
            r = (xr + hr).sigmoid()
            z = (xz + hz).sigmoid()
            if gate_edit is not None:
                z = gate_edit(t, z)
            n = (xn + r * hn).tanh()
            h = (1 - z) * n + z * h
            for name, v in zip(GATES[cell], (r, z, n), strict=False):
                gate_steps[name].append(v)
        else:
            h = (gx[:, t] + gh).tanh()
        if state_edit is not None:
            h = state_edit(h)
        hs.append(h)
    out = {"h": torch.stack(hs, 1)}  # (B, T, H)
    if cs:
        out["c"] = torch.stack(cs, 1)
    for name, steps in gate_steps.items():
        out[name] = torch.stack(steps, 1)
    return out


def stack_layers(cell: str, per_layer: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-layer outputs of run_layer -> the top layer's "h", "c", gates and "stack_<key>" (L, B, T, H)."""
    out = dict(per_layer[-1])
    for key in per_layer[-1]:
        out[f"stack_{key}"] = torch.stack([lay[key] for lay in per_layer])
    return out


@torch.no_grad()
def unroll(model: RowClassifier, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the recurrence step by step, layer by layer: x (B, T, F) -> dict of tensors:
    "projected" (B, T, P); the top layer's "h", "c" (LSTM) and gates (B, T, H); "stack_h", "stack_c",
    "stack_<gate>" (L, B, T, H) for every layer; "logits" (B, T, 10).

    Raises UnsupportedModelError for a recurrent layer it would misread (see check_supported)."""
    check_supported(model, "the step-by-step trace")
    cell = model.config.cell
    xp = model.proj(x)  # (B, T, P)
    per_layer, xin = [], xp
    for k in range(n_layers(model)):
        per_layer.append(run_layer(cell, layer_weights(model, k), xin))
        xin = per_layer[-1]["h"]  # the next layer reads this one's h
    out = stack_layers(cell, per_layer)
    out["projected"] = xp
    out["logits"] = model.head(out["h"])  # (B, T, 10)
    return out


def trace_from(cell: str, x: torch.Tensor, out: dict[str, torch.Tensor]) -> Trace:
    """A Trace (plain numpy) of the inputs x (B, T, F) and unroll's output; h, c and gates are views of the
    top layer's slices of the stacks (no copies)."""
    names = GATES[cell]
    stack_h = out["stack_h"].numpy()  # (L, B, T, H)
    stack_c = out["stack_c"].numpy() if "stack_c" in out else None
    stack_gates = {g: out[f"stack_{g}"].numpy() for g in names}
    return Trace(
        cell=cell,
        rows=x.numpy(),
        projected=out["projected"].numpy(),
        gates={g: v[-1] for g, v in stack_gates.items()},
        h=stack_h[-1],
        c=None if stack_c is None else stack_c[-1],
        logits=out["logits"].numpy(),
        probs=torch.softmax(out["logits"], -1).numpy(),
        gate_names=names,
        stack_h=stack_h,
        stack_c=stack_c,
        stack_gates=stack_gates,
    )


def trace_batch(model: RowClassifier, images: torch.Tensor | np.ndarray) -> Trace:
    """Full per-step trace of a batch of images (N, 28, 28)."""
    x = _as_batch(images)
    model.eval()
    with torch.no_grad():
        out = unroll(model, x)
    return trace_from(model.config.cell, x, out)


def trace_image(model: RowClassifier, image: torch.Tensor | np.ndarray) -> Trace:
    """Full per-step trace of one image (28, 28); arrays have no batch axis."""
    return trace_batch(model, _as_batch(image)).item(0)
