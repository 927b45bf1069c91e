"""The guided lesson: twelve short chapters that tell the story with the app's real views.

Pure (no Streamlit): `dataset_facts` (the model on the test set) and `digit_facts` (one digit's trace)
compute every number the text quotes; `chapters` fills the text in. Nothing is written by hand, so the
lesson stays true for any model, including one a class trained itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .evaluate import predict_logits
from .figures.stepper import settle_step
from .model import RowClassifier
from .trace import Trace
from .truncation import PUBLISHED, STEPS, model_input

INK = 0.1  # a row "has ink" when one of its pixels is above this
HALF = STEPS // 2  # early readout after the top half
PROBE_K = 18  # memory probe: the top 18 rows, then blank rows (the Cell comparison page's headline)
N_CHAPTERS = 12


@torch.no_grad()
def _accuracy(model: RowClassifier, x: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predict_logits(model, x).argmax(-1) == labels).float().mean())


def dataset_facts(
    model: RowClassifier, images: torch.Tensor, labels: torch.Tensor, rnn: RowClassifier | None = None
) -> dict[str, float | int | None]:
    """The model's accuracy on the test set: all rows, the notebook's cut (the last 25 rows only),
    the top half read (early readout), and the memory probe (top rows, then blanks) for it and a plain RNN."""
    return with_rnn(model_facts(model, images, labels), rnn_facts(rnn, images, labels) if rnn is not None else None)


def model_facts(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float | int]:
    """The selected model's part of `dataset_facts` (four passes over the test set)."""
    images = torch.as_tensor(images, dtype=torch.float32)  # (N, 28, 28)
    labels = torch.as_tensor(labels)
    k_pub, acc_pub = PUBLISHED
    model.eval()
    return {
        "n_test": int(images.shape[0]),
        "acc_full": _accuracy(model, images, labels),
        "k_notebook": int(k_pub),
        "acc_published": float(acc_pub),
        "acc_notebook": _accuracy(model, model_input(images, k_pub, "notebook"), labels),
        "k_half": HALF,
        "acc_half": _accuracy(model, model_input(images, HALF, "early"), labels),
        "k_probe": PROBE_K,
        "acc_probe": _accuracy(model, model_input(images, PROBE_K, "occlusion"), labels),
    }


def rnn_facts(rnn: RowClassifier, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """The plain RNN's part of `dataset_facts`: its accuracy with all rows and on the memory probe."""
    images = torch.as_tensor(images, dtype=torch.float32)  # (N, 28, 28)
    labels = torch.as_tensor(labels)
    rnn.eval()
    return {
        "rnn_acc_full": _accuracy(rnn, images, labels),
        "rnn_acc_probe": _accuracy(rnn, model_input(images, PROBE_K, "occlusion"), labels),
    }


def with_rnn(facts: dict, rnn: dict | None) -> dict[str, float | int | None]:
    """`model_facts` and `rnn_facts` (None: no usable plain RNN) as one `dataset_facts` dict."""
    return {**facts, "rnn_acc_full": None, "rnn_acc_probe": None, **(rnn or {})}


def digit_facts(trace: Trace, image: np.ndarray, label: int) -> dict[str, float | int | None]:
    """What one digit's trace shows: where the ink starts, how little h moves before, the gates, the
    cell state, and when the answer settles. Steps are 1-based (step k has read row k)."""
    image = np.asarray(image, dtype=np.float32)
    T, F = trace.rows.shape
    ink_rows = np.flatnonzero(image.max(axis=1) > INK)
    first_ink = int(ink_rows[0]) + 1 if ink_rows.size else T
    last_ink = int(ink_rows[-1]) + 1 if ink_rows.size else T
    abs_h = np.abs(trace.h)  # (T, H)
    blank = slice(0, first_ink - 1)  # steps before the first ink row
    ink = slice(first_ink - 1, T)
    guesses = trace.probs.argmax(-1)  # (T,)
    prediction = int(guesses[-1])
    settle = settle_step(trace.probs)
    f = {
        "T": int(T),
        "F": int(F),
        "P": int(trace.projected.shape[-1]),
        "H": int(trace.h.shape[-1]),
        "cell": trace.cell,
        "label": int(label),
        "prediction": prediction,
        "p_final": float(trace.probs[-1, prediction]),
        "correct": prediction == int(label),
        "first_ink": first_ink,
        "last_ink": last_ink,
        "h_blank": float(abs_h[blank].max()) if first_ink > 1 else 0.0,
        # the largest change of any unit of h in one step: over blank steps 2.. and at the first inked row
        "dh_blank": float(np.abs(np.diff(trace.h[blank], axis=0)).max()) if first_ink > 2 else None,
        "dh_ink": float(np.abs(trace.h[first_ink - 1] - (trace.h[first_ink - 2] if first_ink > 1 else 0)).max()),
        "h_ink": float(abs_h[min(first_ink + 1, T) - 1].max()),
        "settle": settle,
        "p_settle": float(trace.probs[settle - 1, prediction]),
        "changes": int((guesses[1:] != guesses[:-1]).sum()),
        "first_guess_ink": int(guesses[first_ink - 1]),
        "i_blank": None,
        "i_ink": None,
        "forget_level": None,
        "forget_share": None,
        "unit": int(abs_h[-1].argmax()),
        "c_unit": None,
        "forget_unit": None,
    }
    gates = trace.gates
    if "input" in gates and "forget" in gates and trace.c is not None:
        f["i_blank"] = float(gates["input"][blank].mean()) if first_ink > 1 else None
        f["i_ink"] = float(gates["input"][first_ink - 1 : last_ink].mean())
        forget = gates["forget"][ink]  # (steps, H)
        f["forget_level"] = float(np.median(forget))
        f["forget_share"] = float((forget.mean(0) > 0.9).mean())
        unit = int(np.abs(trace.c[-1]).argmax())
        f["unit"] = unit
        f["c_unit"] = float(trace.c[-1, unit])
        f["forget_unit"] = float(forget[:, unit].mean())
    return f


@dataclass(frozen=True)
class Chapter:
    """One step of the lesson: a title, 2-4 sentences (Markdown), and the view it sets.

    figure: which view to show ("rows", "input_row", "h", "gates", "c", "probs", "truncation",
    "draw", "rnn"); step: the step shown (1..T); unit: a unit to point at (or None);
    numbers: every number quoted in `text`, by name, as it is printed.
    """

    title: str
    text: str
    figure: str
    step: int
    unit: int | None = None
    numbers: dict[str, str] = field(default_factory=dict)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def chapters(d: dict, s: dict, digit: int) -> list[Chapter]:
    """The twelve chapters for one model (dataset facts d) and one test digit (digit facts s)."""
    T = s["T"]
    lstm = s["forget_level"] is not None
    out: list[Chapter] = []

    def add(title: str, figure: str, step: int, text: str, highlight: int | None = None, **numbers) -> None:
        shown = {k: str(v) for k, v in numbers.items()}
        out.append(Chapter(title, text.format(**shown), figure, int(step), highlight, shown))

    add(
        "An image becomes a sequence",
        "rows",
        1,
        "This is test digit #{digit}, a **{label}**. The network never sees the picture at once: it reads it as "
        "**{T} rows of {F} pixels**, one row per step, top to bottom, like a sentence read word by word.",
        digit=digit,
        label=s["label"],
        T=T,
        F=s["F"],
    )
    add(
        "Each row is projected",
        "input_row",
        s["first_ink"],
        "At every step the {F} pixel values of one row go through `Linear({F}→{P})`: {P} numbers that enter the "
        "recurrent cell together with what it remembers from the rows before.",
        F=s["F"],
        P=s["P"],
    )
    if s["dh_blank"] is not None:
        add(
            "Blank rows: h settles",
            "h",
            s["first_ink"] - 1,
            "The top **{blank} rows** of this digit are blank. With nothing new to read, h settles: from one blank "
            "row to the next no unit changes by more than **{dh_blank}**; the first row with ink changes a unit by "
            "up to **{dh_ink}**.",
            blank=s["first_ink"] - 1,
            dh_blank=f"{s['dh_blank']:.2f}",
            dh_ink=f"{s['dh_ink']:.2f}",
        )
    else:
        add(
            "Ink from the first row",
            "h",
            1,
            "This digit has ink from the very first row, so h starts moving at once: its largest value is "
            "**{h_ink}** after two rows (h can reach ±1).",
            h_ink=f"{s['h_ink']:.2f}",
        )
    if lstm and s["i_blank"] is not None:
        add(
            "A stroke arrives: the gates open",
            "gates",
            s["first_ink"],
            "Row {first_ink} brings the first ink. The **input gate** decides how much of each row is written into "
            "memory: on average **{i_blank}** over the blank rows, **{i_ink}** over the rows with ink. Then h jumps "
            "to **{h_ink}**.",
            first_ink=s["first_ink"],
            i_blank=f"{s['i_blank']:.2f}",
            i_ink=f"{s['i_ink']:.2f}",
            h_ink=f"{s['h_ink']:.2f}",
        )
    else:
        add(
            "A stroke arrives",
            "gates",
            s["first_ink"],
            "Row {first_ink} brings the first ink, and h jumps to **{h_ink}**. A {cell} has no input gate: every "
            "row is mixed into h the same way.",
            first_ink=s["first_ink"],
            h_ink=f"{s['h_ink']:.2f}",
            cell=s["cell"].upper(),
        )
    if lstm:
        add(
            "The cell state holds it",
            "c",
            s["last_ink"],
            "The cell state c is the long-term memory: c = f·c + i·g. Over the rows with ink the **forget gate**'s "
            "median is **{forget}** (1 keeps everything, 0 wipes it), and **{share}** of the units keep f above "
            "0.9 on average: those hold on to what was written, the others let it fade.",
            forget=f"{s['forget_level']:.2f}",
            share=_pct(s["forget_share"]),
        )
        add(
            "One memory unit",
            "c",
            T,
            "Unit **{unit}** ends with the largest cell state, c = **{c_unit}**. Its forget gate averaged "
            "**{f_unit}** over the inked rows: it keeps adding and can grow beyond ±1, which h = o·tanh(c) "
            "never does.",
            highlight=s["unit"],
            unit=s["unit"],
            c_unit=f"{s['c_unit']:.2f}",
            f_unit=f"{s['forget_unit']:.2f}",
        )
    else:
        add(
            "No separate memory",
            "h",
            s["last_ink"],
            "A {cell} has no cell state: h itself is its only memory, rewritten at every step.",
            cell=s["cell"].upper(),
        )
        add("One unit", "h", T, "Unit **{unit}** ends with the largest |h| of this digit.", unit=s["unit"])
    add(
        "The answer flips, then settles",
        "probs",
        s["settle"],
        "The probabilities are what the network would answer if reading stopped here. Its best guess changes "
        "**{changes}** times; from **step {settle}** on it stays **{prediction}** (p = {p_settle} there).",
        changes=s["changes"],
        settle=s["settle"],
        prediction=s["prediction"],
        p_settle=f"{s['p_settle']:.2f}",
    )
    add(
        "The last row: the answer",
        "probs",
        T,
        "After all {T} rows the network answers **{prediction}** with p = **{p_final}**: {verdict}. "
        "Over all {n_test} test digits it is right **{acc_full}** of the time.",
        T=T,
        prediction=s["prediction"],
        p_final=f"{s['p_final']:.2f}",
        verdict="correct" if s["correct"] else f"wrong, it is a {s['label']}",
        n_test=d["n_test"],
        acc_full=_pct(d["acc_full"]),
    )
    add(
        "Reading only the top half",
        "truncation",
        d["k_half"],
        "Stop after the top **{k_half} rows** and read the answer there: **{acc_half}** of test digits are "
        "right (against {acc_full} with all rows). {why}",
        k_half=d["k_half"],
        acc_half=_pct(d["acc_half"]),
        acc_full=_pct(d["acc_full"]),
        why=(
            "The network was trained to answer at the last row: half way, its guess is not an answer yet."
            if d["acc_half"] < 0.5
            else "The telling strokes are often in the top half."
        ),
    )
    add(
        "Cutting the sequence short",
        "truncation",
        d["k_notebook"],
        "The original notebook fed only the first **{k} rows**, placed at the end of the sequence, and got "
        "**{published}**. This model gets **{acc}** that way: {why}",
        k=d["k_notebook"],
        published=_pct(d["acc_published"]),
        acc=_pct(d["acc_notebook"]),
        why=(
            f"it does better: the {T - d['k_notebook']} rows cut are the bottom ones, mostly blank, and the "
            "blank rows put in front look like the blank top rows of any digit."
            if d["acc_notebook"] > d["acc_published"]
            else "no better: its memory of the top rows does not survive the shift."
        ),
    )
    add(
        "Draw your own",
        "draw",
        T,
        "Now draw a digit on the **Draw a digit** page and watch the same views for your own handwriting. "
        "Does the answer settle as early as step {settle}, as it did for this {label}?",
        settle=s["settle"],
        label=s["label"],
    )
    if d["rnn_acc_probe"] is not None:
        add(
            "The plain RNN forgets",
            "rnn",
            d["k_probe"],
            "Keep the top **{k} rows**, then feed blank rows to the end. This model still gets **{acc}** right. "
            "A plain RNN (no gates, {rnn_full} with all rows) gets only **{rnn}**: its h is rewritten at every "
            "step, and the early rows fade.",
            k=d["k_probe"],
            acc=_pct(d["acc_probe"]),
            rnn_full=_pct(d["rnn_acc_full"]),
            rnn=_pct(d["rnn_acc_probe"]),
        )
    else:
        add(
            "Memory of the early rows",
            "rnn",
            d["k_probe"],
            "Keep the top **{k} rows**, then feed blank rows to the end: this model still gets **{acc}** right. "
            "(The shipped plain RNN is missing here, so it cannot be compared.)",
            k=d["k_probe"],
            acc=_pct(d["acc_probe"]),
        )
    assert len(out) == N_CHAPTERS
    return out
