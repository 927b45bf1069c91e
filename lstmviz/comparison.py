"""The Cell comparison: which shipped models it compares, and the sentences the page states, computed from
their results.

`find_compared_models` finds models/{lstm,lstm-2layer,gru,rnn}.safetensors from their headers. The text
functions take plain numbers keyed by the model's display title (e.g. "LSTM", "GRU") and return Markdown;
no streamlit, no model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import memory
from .memory import CELL_TITLES, MEMORY_MODE, CellModel, find_cell_models, relative, rows_needed
from .registry import read_info
from .truncation import MODE_TITLES

STACKED = "lstm-2layer"  # the shipped 2-layer LSTM, compared with the one-layer cells
STACKED_LAYERS = 2
TITLES = {"lstm": CELL_TITLES["lstm"], STACKED: "2-layer LSTM", "gru": CELL_TITLES["gru"], "rnn": CELL_TITLES["rnn"]}


@dataclass
class Compared:
    """One compared model: its key (the file's stem, a key of TITLES), the cell type and layer count it must
    have, where it should be, and why it cannot be used (None if it can)."""

    key: str
    cell: str
    layers: int
    path: Path
    problem: str | None = None

    @property
    def title(self) -> str:
        return TITLES[self.key]

    @property
    def train_command(self) -> str:
        layers = f" --layers {self.layers}" if self.layers > 1 else ""
        return f"python -m lstmviz train --cell {self.cell}{layers} --out models/{self.key}.safetensors"


def _compared(found: CellModel, key: str, layers: int) -> Compared:
    return Compared(key, found.cell, layers, found.path, found.problem)


def find_compared_models(folder: str | os.PathLike | None = None) -> list[Compared]:
    """The Cell comparison's models in order (LSTM, 2-layer LSTM, GRU, plain RNN), checked from their headers
    only; the layer count is checked when a model is loaded (see `layers_problem`)."""
    folder = Path(folder) if folder else memory.MODELS_DIR
    cells = {m.cell: _compared(m, m.cell, 1) for m in find_cell_models(folder)}
    path = folder / f"{STACKED}.safetensors"
    stacked = Compared(STACKED, "lstm", STACKED_LAYERS, path)
    if not path.is_file():
        stacked.problem = f"{path.name} is not in {folder}"
    else:
        info = read_info(path)
        if not info.valid:
            stacked.problem = info.error
        elif info.cell != "lstm":
            stacked.problem = f"{path.name} holds a {info.cell} model, not an lstm"
    return [cells["lstm"], stacked, cells["gru"], cells["rnn"]]


def layers_problem(entry: Compared, num_layers: int) -> str | None:
    """Why a loaded model does not fit its place in the comparison (the wrong layer count), or None."""
    if num_layers == entry.layers:
        return None
    return f"{entry.path.name} has {num_layers} layer{'s' * (num_layers > 1)}, not {entry.layers}"


PROBE_K = 18  # the memory probe's headline: the top 18 rows of each digit, then 10 blank steps
PROBE_LEVEL = 0.9  # and the rows needed to reach 90% when blanks follow

INTRO = (
    "Four networks read the same digits row by row: an **LSTM** (a cell state with forget, input and output "
    "gates), the same LSTM **stacked two layers deep** (the second layer reads the first one's h), a **GRU** "
    "(reset and update gates, no separate cell state) and a **plain tanh RNN** (no gates at all). Which of them "
    "still knows, at step 28, what the first rows looked like, and what does the second layer buy?"
)
MODE_TEXT = {
    "notebook": "the first k rows moved to the end, after 28 − k blank rows (the original notebook's experiment).",
    "early": "the answer read right after the first k rows.",
    "occlusion": "the rows after k blanked and the answer read at step 28: the first k rows must be **remembered** "
    "through 28 − k blank steps.",
}
LESSON = (
    "**Why a plain RNN forgets.** A plain RNN rewrites its whole memory at every step, "
    "h = tanh(W·row + U·h + b): whatever row 5 left in h is squeezed through 23 more multiplications and tanh's "
    "before the answer. The learning signal travels the same way back and shrinks at every step (the **vanishing "
    "gradient**): the dashed curves show that before training the plain RNN's answer hardly depends on the first "
    "rows, so training gets almost no signal telling it to keep them. The LSTM adds to its cell state instead, "
    "c = f·c + i·g: with the forget gate near 1, old content and its gradient pass through unchanged (its forget "
    "bias starts at 1 for exactly this reason). The GRU does the same with its update gate, "
    "h = z·h + (1 − z)·candidate. Over only 28 steps, training can still teach a plain RNN to reach back; whether "
    "it managed, and at what cost, shows in the memory probe and the accuracy above."
)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """The share of predictions (N,) equal to labels (N,)."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"expected predictions and labels of one non-empty shape, got {p.shape} and {y.shape}")
    return float((p == y).mean())


def row1_text(sensitivity: Mapping[str, np.ndarray]) -> str:
    """Each model's sensitivity to row 1 relative to its most influential row, e.g. "LSTM 0.02, GRU 0.004"."""
    return ", ".join(f"{name} {relative(curve)[0]:.1g}" for name, curve in sensitivity.items())


def sensitivity_caption(n: int, trained: Mapping[str, np.ndarray], fresh: Mapping[str, np.ndarray]) -> str:
    """The caption under the sensitivity chart, with row 1's relative weight before and after training."""
    return (
        f"For {n} test digits: how strongly the final answer (the 10 logits at step 28) reacts to a small change "
        "of each input row, ‖∂ logits / ∂ row t‖, averaged and divided by each model's largest value (log scale). "
        "Dashed: the same networks **before training** (fresh weights). Row 1 relative to the most influential "
        f"row, before training: {row1_text(fresh)}; after training: {row1_text(trained)}."
    )


def memory_caption(probes: Mapping[str, np.ndarray], k: int = PROBE_K, level: float = PROBE_LEVEL) -> str:
    """The caption under the memory probe: each model's accuracy with the top k rows and 28 − k blank steps
    after them, and the rows each needs to reach `level` ("never" when it does not)."""
    needed = {name: rows_needed(curve, level) for name, curve in probes.items()}
    return (
        f"The {MODE_TITLES[MEMORY_MODE]} curve again: each digit keeps its first k rows, the rest are blanked, "
        "and the answer is read at step 28, so what the first rows said has to survive 28 − k blank steps. "
        f"With the top {k} rows and {28 - k} blank steps after them: "
        + ", ".join(f"{name} {curve[k - 1]:.1%}" for name, curve in probes.items())
        + f". Rows needed for {level:.0%}: "
        + ", ".join(f"{name} {r if r else 'never'}" for name, r in needed.items())
        + "."
    )


def setup_caption(configs: Mapping[str, object]) -> str:
    """What the compared models (title -> ModelConfig) share and what differs, from their configs."""
    cfgs = list(configs.values())
    embeds = sorted({c.embed_size for c in cfgs})
    hiddens = sorted({c.hidden_size for c in cfgs})
    shared = []
    if len(embeds) == 1:
        shared.append(f"same projection `Linear(28→{embeds[0]})`")
    if len(hiddens) == 1:
        shared.append(f"same readout `Linear({hiddens[0]}→10)` on the last step")
    differs = "the recurrent cell"
    stacked = [t for t, c in configs.items() if c.num_layers > 1]
    if stacked:
        differs += " and, for the " + ", ".join(stacked) + ", the number of stacked layers"
    if len(hiddens) > 1:
        differs += " and the width (" + ", ".join(f"{t} {c.hidden_size}" for t, c in configs.items()) + " units)"
    lead = (", ".join(shared) + ", same" if shared else "The same") + " training command"
    return (
        f"{lead[0].upper()}{lead[1:]} (`python -m lstmviz train --cell lstm|gru|rnn [--layers 2]`): only {differs} "
        "differs. Accuracy with all 28 rows is only part of the story: the differences grow when the model must "
        "**remember**."
    )


@dataclass
class Facts:
    """What the comparison measured for one model: test accuracy with all rows, parameter count, the
    truncation curves (mode -> (28,) accuracy after k rows), the relative row sensitivity (28,), and the number
    of test digits behind the accuracies."""

    accuracy: float
    params: int
    curves: Mapping[str, np.ndarray]
    sensitivity: np.ndarray
    n_test: int


def _points(a: float, b: float) -> str:
    return f"{100 * (a - b):+.2f} points"


def noise_level(accuracy: float, n: int) -> float:
    """Two standard errors of the difference between two accuracies near `accuracy` measured on n digits (as if
    independent): a difference below this is not told apart from chance."""
    return 2.0 * float(np.sqrt(2.0 * accuracy * (1.0 - accuracy) / max(n, 1)))


def second_layer_text(one: Facts, two: Facts, k: int = PROBE_K, level: float = PROBE_LEVEL) -> str:
    """What the second layer adds, in words: the 2-layer LSTM (`two`) against the 1-layer LSTM (`one`) on
    parameters, accuracy (against the noise of the test set), the early readout, the memory probe and row 1's
    weight in the answer, every number from the data."""
    noise = noise_level((one.accuracy + two.accuracy) / 2, min(one.n_test, two.n_test))
    diff = two.accuracy - one.accuracy
    if abs(diff) < noise:
        verdict = f"within the noise of {min(one.n_test, two.n_test):,} test digits (±{100 * noise:.2f} points)"
    else:
        verdict = "better" if diff > 0 else "worse"
        verdict = f"{verdict} by more than the test set's noise (±{100 * noise:.2f} points)"
    parts = [
        f"**What the second layer adds.** The 2-layer LSTM has **{two.params:,} parameters** against "
        f"{one.params:,} ({two.params / max(one.params, 1):.1f}×). With all 28 rows it scores "
        f"**{two.accuracy:.2%}** against {one.accuracy:.2%} ({_points(two.accuracy, one.accuracy)}): {verdict}."
    ]
    if "early" in one.curves and "early" in two.curves:
        gap = np.asarray(two.curves["early"]) - np.asarray(one.curves["early"])  # (28,)
        ahead = int((gap > 0).sum())
        widest = int(np.argmax(np.abs(gap)))
        parts.append(
            f"Answering after only k rows (early readout), it is ahead at {ahead} of the 28 k's; the widest gap is "
            f"{_points(two.curves['early'][widest], one.curves['early'][widest])} at k = {widest + 1}."
        )
    if MEMORY_MODE in one.curves and MEMORY_MODE in two.curves:
        p1, p2 = np.asarray(one.curves[MEMORY_MODE]), np.asarray(two.curves[MEMORY_MODE])
        r1, r2 = rows_needed(p1, level), rows_needed(p2, level)
        mem_noise = noise_level((p1[k - 1] + p2[k - 1]) / 2, min(one.n_test, two.n_test))
        memory = (
            "about the same memory of the early rows"
            if abs(p2[k - 1] - p1[k - 1]) < mem_noise
            else ("a longer" if p2[k - 1] > p1[k - 1] else "a shorter") + " memory of the early rows"
        )
        parts.append(
            f"Remembering the top {k} rows through {28 - k} blank steps: {p2[k - 1]:.1%} against {p1[k - 1]:.1%} "
            f"({_points(p2[k - 1], p1[k - 1])}); rows needed for {level:.0%}: {r2 or 'never'} against "
            f"{r1 or 'never'}."
        )
    s1, s2 = float(relative(one.sensitivity)[0]), float(relative(two.sensitivity)[0])
    more = "more" if s2 > s1 else "less"
    parts.append(
        f"Row 1 weighs {s2:.1g} of the most influential row in its answer, against {s1:.1g}: the stack leans "
        f"{more} on the first rows."
    )
    if MEMORY_MODE in one.curves and MEMORY_MODE in two.curves:
        gain = "no measurable gain in accuracy" if abs(diff) < noise else ("a gain" if diff > 0 else "a loss")
        gain += "" if abs(diff) < noise else " in accuracy beyond the noise"
        parts.append(
            f"In short, on these digits: {two.params / max(one.params, 1):.1f}× the parameters, {gain}, {memory}."
        )
    return " ".join(parts)
