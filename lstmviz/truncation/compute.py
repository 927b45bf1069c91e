"""Computing the truncation curves: the naive loop (the reference) and the fast path.

`naive_truncation` runs one full pass per k per mode: 3 x 28 x 28 = 2,352 step-passes per image
(one row of one image through the cell). `truncation_curves` gets the same predictions with about
812: in notebook mode the 28-k leading zero rows drive every image through one and the same state
trajectory, computed once for a single sequence, so only the k real rows are run per k (sum k = 406);
early readout reads the output after every step of one pass over the real rows (28), which also
keeps the state after every k; occlusion continues from each of those states with its 28-k zero rows
(sum = 378), one call per k over a batch. Batches of BATCH images keep the cell's buffers in cache;
they are computed side by side by worker threads of one torch thread each.
A state is the whole stack's: (h, c) for an LSTM, (h,) otherwise, each (layers, B, H), so stacked
models get the same shortcut. Only one computation runs at a time in a process (a second waits),
since two would share the cores. Plain torch; no streamlit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from ..data import Split
from ..model import RowClassifier
from ..trace import UnsupportedModelError
from .result import MODES, STEPS, TruncationResult, check_modes, model_input

BATCH = 500  # images per batch: the cell's buffers stay in cache (2,000 ran about 3x slower)

Progress = Callable[[float, str], None]
State = tuple[torch.Tensor, ...]  # (h, c) for an LSTM, (h,) otherwise; each (layers, B, H)


# ---------------------------------------------------------------- naive reference


@torch.no_grad()
def naive_truncation(
    model: RowClassifier,
    split: Split,
    modes: Sequence[str] = MODES,
    progress: Progress | None = None,
    batch_size: int = BATCH,
) -> TruncationResult:
    """Reference: one full forward pass per k per mode (28 x 3 passes over the test set)."""
    modes = check_modes(modes)
    model.eval()
    n = len(split)
    preds = {m: np.empty((STEPS, n), np.int8) for m in modes}
    total, done = len(modes) * STEPS, 0
    for mode in modes:
        for k in range(1, STEPS + 1):
            for i in range(0, n, batch_size):
                x = model_input(split.images[i : i + batch_size], k, mode)
                preds[mode][k - 1, i : i + batch_size] = model(x).argmax(-1).numpy()
            done += 1
            if progress:
                progress(done / total, f"{mode}: {k} rows")
    return TruncationResult(preds, split.labels.numpy())


# ---------------------------------------------------------------- fast path


def check_fast_path(model: RowClassifier) -> None:
    """Refuse a recurrent layer the fast path cannot continue from a kept state: raises UnsupportedModelError.

    It runs `model.rnn` itself from states it keeps, so any number of stacked layers, with or without
    biases, with torch's LSTM `proj_size`, is handled; a bidirectional layer (its state after k rows
    depends on the rows after k) or a layer that is not batch_first is not."""
    rnn = model.rnn
    if not isinstance(rnn, (nn.LSTM, nn.GRU, nn.RNN)):
        problem = f"a recurrent layer of type {type(rnn).__name__} (not torch.nn.LSTM/GRU/RNN)"
    elif rnn.bidirectional:
        problem = "a bidirectional layer (its state after k rows depends on the rows after k)"
    elif not rnn.batch_first:
        problem = "a layer that is not batch_first"
    else:
        return
    raise UnsupportedModelError(f"the truncation fast path cannot handle this model: it has {problem}.")


def _lstm(model: RowClassifier) -> bool:
    return isinstance(model.rnn, nn.LSTM)


def _run(model: RowClassifier, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
    """The recurrent layers on projected rows x (B, T, P) from a state: -> (top layer's out (B, T, H), state)."""
    lstm = _lstm(model)
    if state is None:
        out, new = model.rnn(x)
    else:
        out, new = model.rnn(x, state if lstm else state[0])
    return out, (tuple(new) if lstm else (new,))


def _expand(state: State, b: int) -> State:
    """A batch-1 state (layers, 1, H) repeated for b sequences -> (layers, b, H)."""
    return tuple(s.expand(-1, b, -1).contiguous() for s in state)


def _zero_state(model: RowClassifier) -> State:
    """The zero state of the whole stack for one sequence: each (layers, 1, H) (h is proj_size wide if set)."""
    rnn = model.rnn
    h = torch.zeros(rnn.num_layers, 1, getattr(rnn, "proj_size", 0) or rnn.hidden_size)
    return (h, torch.zeros(rnn.num_layers, 1, rnn.hidden_size)) if _lstm(model) else (h,)


def _zero_trajectory(model: RowClassifier, zero_row: torch.Tensor) -> list[State]:
    """States after j = 0..27 zero rows (zero_row (1, 1, P) projected) from the zero state, for one sequence
    (shared by every image)."""
    states = [_zero_state(model)]
    for _ in range(STEPS - 1):
        states.append(_run(model, zero_row, states[-1])[1])
    return states


def _states_after_each_row(model: RowClassifier, rows: torch.Tensor) -> tuple[torch.Tensor, list[State]]:
    """rows (B, 28, P) -> (the top layer's hidden states after every step (B, 28, H), the state after each k).

    A one-layer GRU's or RNN's state is its hidden state, read off one pass; an LSTM's cell state, and
    the lower layers' states of a stack, are only returned at the end of a call, so those run one row at a time.
    """
    if not _lstm(model) and model.rnn.num_layers == 1:
        out, _ = _run(model, rows, None)  # (B, 28, H)
        return out, [(out[:, t][None].contiguous(),) for t in range(STEPS)]
    states: list[State] = []
    outs = []
    state: State | None = None
    for t in range(STEPS):
        o, state = _run(model, rows[:, t : t + 1], state)
        outs.append(o)
        states.append(state)
    return torch.cat(outs, 1), states


_SETTING_THREADS = threading.Lock()


def set_thread_torch_threads(n: int) -> None:
    """Run this thread's torch operations on n threads, leaving the rest of the process as it was.

    torch.set_num_threads sets the calling thread's OpenMP/MKL thread count and the default that threads
    which have not used torch yet start with; that default is put back from a short-lived helper thread."""
    with _SETTING_THREADS:
        default = torch.get_num_threads()  # also makes this thread take its setting now, not later
        if n == default:
            return
        torch.set_num_threads(n)
        restore = threading.Thread(target=torch.set_num_threads, args=(default,), name="lstmviz-torch-threads")
        restore.start()
        restore.join()


# One computation at a time in a process: two at once on a 2-core server only slow each other down
# (each OpenMP team spins for cores the other holds), so the Cell comparison's three models queue.
_ONE_AT_A_TIME = threading.Lock()


class _Meter:
    """Progress in step-passes (one row of one image through the cell) with an estimate of the time left."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = max(total, 1), 0, progress
        self.start = time.perf_counter()
        self._lock = threading.Lock()  # workers report side by side

    def __call__(self, units: int, message: str) -> None:
        with self._lock:
            self.done += units
            if not self.progress:
                return
            fraction = min(1.0, self.done / self.total)
            elapsed = time.perf_counter() - self.start
            if 0.02 < fraction < 1.0 and elapsed > 0.5:
                message += f"; about {_duration(elapsed * (1 - fraction) / fraction)} left"
            self.progress(fraction, message)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


@torch.no_grad()
def truncation_curves(
    model: RowClassifier,
    split: Split,
    modes: Sequence[str] = MODES,
    progress: Progress | None = None,
    batch_size: int = BATCH,
    workers: int | None = None,
) -> TruncationResult:
    """Predictions after k = 1..28 rows in each mode, computed with shared work (see the module doc).

    Works for every cell type and any number of stacked layers (check_fast_path says what is refused);
    progress(fraction, message) is called as the work goes on, the message naming the mode, k and the
    time left. Costs about 812 step-passes per image with all three modes, against 2,352 for the naive loop.
    The batches are shared out to `workers` threads (default: this thread's torch thread count), each
    computing on one torch thread: batches side by side scale with the cores without the waits of an
    OpenMP team, whose threads stall at every step whenever another program holds one of its cores.
    """
    modes = check_modes(modes)
    check_fast_path(model)
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        if progress:
            progress(0.0, "waiting: the curves of another model are being computed first")
        _ONE_AT_A_TIME.acquire()
    try:
        return _curves(model, split, modes, progress, batch_size, workers)
    finally:
        _ONE_AT_A_TIME.release()


def _curves(
    model: RowClassifier,
    split: Split,
    modes: tuple[str, ...],
    progress: Progress | None,
    batch_size: int,
    workers: int | None,
) -> TruncationResult:
    model.eval()
    n = len(split)
    preds = {m: np.empty((STEPS, n), np.int8) for m in modes}
    zero_row = model.proj(torch.zeros(1, 1, model.proj.in_features))  # (1, 1, P)
    # work per image, in step-passes: notebook sum(k); the shared pass 28; the occlusion tails sum(28 - k)
    notebook, reading, occlusion = "notebook" in modes, bool({"early", "occlusion"} & set(modes)), "occlusion" in modes
    per_image = (notebook and STEPS * (STEPS + 1) // 2) + (reading and STEPS) + (occlusion and STEPS * (STEPS - 1) // 2)
    meter = _Meter(per_image * n, progress)
    batches = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    zeros = _zero_trajectory(model, zero_row) if notebook else []
    what = " and ".join(m if m == "occlusion" else "early readout" for m in ("early", "occlusion") if m in modes)
    of = f"of {n:,}"

    @torch.no_grad()
    def batch(i: int, j: int) -> None:
        """Every mode's predictions for images i..j-1 (their columns of preds)."""
        rows = model.proj(split.images[i:j])  # (B, 28, P)
        if notebook:  # zeros, then the first k rows: every image starts from the same state after 28 - k zeros
            for k in range(1, STEPS + 1):
                out, _ = _run(model, rows[:, :k], _expand(zeros[STEPS - k], j - i))  # (B, k, H)
                preds["notebook"][k - 1, i:j] = model.head(out[:, -1]).argmax(-1).numpy()
                meter(k * (j - i), f"notebook mode, k = {k} of {STEPS}, images {i + 1:,}–{j:,} {of}")
        if reading:  # one pass over the real rows, keeping the state after every k
            out, states = _states_after_each_row(model, rows)  # (B, 28, H), 28 states
            meter(STEPS * (j - i), f"{what}: reading the rows, images {i + 1:,}–{j:,} {of}")
            if "early" in modes:
                preds["early"][:, i:j] = model.head(out).argmax(-1).T.numpy()
            if occlusion:  # the first k rows, then 28 - k zero rows from the state after k
                for k in range(1, STEPS):
                    tail = zero_row.expand(j - i, STEPS - k, -1)  # (B, 28-k, P)
                    last, _ = _run(model, tail, states[k - 1])
                    preds["occlusion"][k - 1, i:j] = model.head(last[:, -1]).argmax(-1).numpy()
                    meter((STEPS - k) * (j - i), f"occlusion, k = {k} of {STEPS}, images {i + 1:,}–{j:,} {of}")
                preds["occlusion"][STEPS - 1, i:j] = model.head(out[:, -1]).argmax(-1).numpy()

    workers = min(len(batches), workers if workers is not None else torch.get_num_threads())
    if workers <= 1:
        for i, j in batches:
            batch(i, j)
    else:  # batches side by side, each worker on one torch thread: no OpenMP team waits for a busy core
        with ThreadPoolExecutor(workers, "lstmviz-truncation-worker", set_thread_torch_threads, (1,)) as pool:
            for done in [pool.submit(batch, i, j) for i, j in batches]:
                done.result()  # re-raises a worker's error
    if progress:
        progress(1.0, "done")
    return TruncationResult(preds, split.labels.numpy())
