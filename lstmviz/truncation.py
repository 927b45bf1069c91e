"""Truncation: test accuracy when the network is fed only k = 1..28 rows of each digit.

Three ways to cut a digit short (MODES):
- "notebook": the first k rows placed at the end, zero rows before (the original notebook's
  experiment; it published 25 rows -> 76.6%);
- "early": the readout after the first k rows, nothing padded;
- "occlusion": the rows after k set to zero, read at step 28.

`naive_truncation` runs one full pass per k per mode: 3 x 28 x 28 = 2,352 step-passes per image
(one row of one image through the cell). `truncation_curves` gets the same predictions with about
812: in notebook mode the 28-k leading zero rows drive every image through one and the same state
trajectory, computed once for a single sequence, so only the k real rows are run per k (sum k = 406);
early readout reads the output after every step of one pass over the real rows (28), which also
keeps the state after every k; occlusion continues from each of those states with its 28-k zero rows
(sum = 378), one call per k over a batch. Batches of BATCH images keep the cell's buffers in cache.
Only one computation runs at a time in a process (a second waits), since two would share the cores.
`cached_truncation` stores the predictions in
a file keyed by the weights' hash and the test set, so a restart does not recompute.
Plain numpy and torch; no streamlit.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checkpoint import MODELS_DIR, LoadedModel, atomic_write_bytes, load_checkpoint, weights_hash
from .data import Split
from .model import RowClassifier
from .trace import check_supported

MODES = ("notebook", "early", "occlusion")
MODE_TITLES = {"notebook": "notebook (rows at the end)", "early": "early readout", "occlusion": "occlusion"}
STEPS = 28
PUBLISHED = (25, 0.766)  # the notebook's published point: 25 rows -> 76.6%
CACHE_ENV_VAR = "LSTMVIZ_CACHE_DIR"
CACHE_SUFFIX = ".truncation.npz"
CACHE_VERSION = 1
BATCH = 500  # images per batch: the cell's buffers stay in cache (2,000 ran about 3x slower)

Progress = Callable[[float, str], None]
State = tuple[torch.Tensor, ...]  # (h, c) for an LSTM, (h,) otherwise; each (1, B, H)


@dataclass
class TruncationResult:
    """Predictions after k = 1..28 rows for each mode, and what follows from them.

    predictions[mode] (28, N) int8 (row k-1 is k rows fed), labels (N,) int64;
    accuracy[mode] (28,), per_class[mode] (28, 10) (NaN for a class with no images),
    decision_step[mode] (N,) int16: the first k from which the prediction stays correct up to 28, -1 never.
    """

    predictions: dict[str, np.ndarray]
    labels: np.ndarray
    accuracy: dict[str, np.ndarray] = field(init=False)
    per_class: dict[str, np.ndarray] = field(init=False)
    decision_step: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.predictions = {m: np.asarray(p, dtype=np.int8) for m, p in self.predictions.items()}
        correct = {m: p == self.labels[None] for m, p in self.predictions.items()}  # (28, N) bool
        self.accuracy = {m: c.mean(1) if c.shape[1] else np.full(STEPS, np.nan) for m, c in correct.items()}
        self.per_class = {m: per_class_accuracy(c, self.labels) for m, c in correct.items()}
        self.decision_step = {m: decision_steps(c) for m, c in correct.items()}

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.predictions)

    @property
    def k(self) -> np.ndarray:
        return np.arange(1, STEPS + 1)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def confusion(self, mode: str, k: int) -> np.ndarray:
        """Counts (10, 10): true class (rows) against the prediction after k rows (columns)."""
        pred = self.predictions[mode][k - 1].astype(np.int64)
        return np.bincount(self.labels * 10 + pred, minlength=100).reshape(10, 10)

    def curves(self) -> dict[str, dict[str, list]]:
        """{mode: {"k": [...], "accuracy": [...]}}, JSON-ready."""
        return {m: {"k": self.k.tolist(), "accuracy": [float(a) for a in self.accuracy[m]]} for m in self.modes}


def per_class_accuracy(correct: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """correct (28, N) bool, labels (N,) -> (28, n_classes) share correct per class (NaN if absent)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)  # (10,)
    hits = np.stack([np.bincount(labels, weights=row, minlength=n_classes) for row in correct.astype(np.float64)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def decision_steps(correct: np.ndarray) -> np.ndarray:
    """correct (28, N) bool -> (N,) int16: first k (1-based) with every k' >= k correct; -1 when never."""
    stays = np.flip(np.logical_and.accumulate(np.flip(correct, 0), axis=0), 0)  # (28, N)
    return np.where(stays.any(0), stays.argmax(0) + 1, -1).astype(np.int16)


def _check_modes(modes: Iterable[str]) -> tuple[str, ...]:
    modes = tuple(dict.fromkeys(modes))
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"modes must be some of {MODES}, not {list(modes)}")
    return modes


# ---------------------------------------------------------------- inputs as the model sees them


def model_input(images: torch.Tensor, k: int, mode: str) -> torch.Tensor:
    """The sequence fed in a mode after cutting to k rows: images (N, 28, 28) -> (N, 28 or k, 28)."""
    if not 1 <= k <= STEPS:
        raise ValueError(f"k must be from 1 to {STEPS}, not {k}")
    if mode == "early":
        return images[:, :k]
    out = torch.zeros_like(images)
    if mode == "notebook":
        out[:, STEPS - k :] = images[:, :k]
    elif mode == "occlusion":
        out[:, :k] = images[:, :k]
    else:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return out


def as_seen(images: np.ndarray, k: int, mode: str) -> np.ndarray:
    """Images (N, 28, 28) as the model sees them after k rows, for display; early mode's unread rows are NaN."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    seen = model_input(x, k, mode).numpy()
    if mode == "early":
        seen = np.concatenate([seen, np.full((seen.shape[0], STEPS - k, seen.shape[2]), np.nan, np.float32)], 1)
    return seen


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
    modes = _check_modes(modes)
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


def _run(model: RowClassifier, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
    """The model's recurrent layer on projected rows x (B, T, P) from a state: -> (out (B, T, H), state)."""
    lstm = model.config.cell == "lstm"
    if state is None:
        out, new = model.rnn(x)
    else:
        out, new = model.rnn(x, state if lstm else state[0])
    return out, (tuple(new) if lstm else (new,))


def _expand(state: State, b: int) -> State:
    """A batch-1 state (1, 1, H) repeated for b sequences -> (1, b, H)."""
    return tuple(s.expand(-1, b, -1).contiguous() for s in state)


def _zero_trajectory(model: RowClassifier) -> list[State]:
    """States after j = 0..27 zero rows from the zero state, for one sequence (shared by every image)."""
    zero_row = model.proj(torch.zeros(1, 1, model.config.input_size))  # (1, 1, P)
    h0 = torch.zeros(1, 1, model.config.hidden_size)
    states: list[State] = [(h0, h0.clone()) if model.config.cell == "lstm" else (h0,)]
    for _ in range(STEPS - 1):
        states.append(_run(model, zero_row, states[-1])[1])
    return states


# One computation at a time in a process: two at once on a 2-core server only slow each other down
# (each OpenMP team spins for cores the other holds), so the Cell comparison's three models queue.
_ONE_AT_A_TIME = threading.Lock()


class _Meter:
    """Progress in step-passes (one row of one image through the cell) with an estimate of the time left."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = max(total, 1), 0, progress
        self.start = time.perf_counter()

    def __call__(self, units: int, message: str) -> None:
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
) -> TruncationResult:
    """Predictions after k = 1..28 rows in each mode, computed with shared work (see the module doc).

    Works for every cell type (one plain layer: others raise UnsupportedModelError); progress(fraction,
    message) is called as the work goes on, the message naming the mode, k and the time left.
    Costs about 812 step-passes per image with all three modes, against 2,352 for the naive loop.
    """
    modes = _check_modes(modes)
    check_supported(model, "the truncation fast path")
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        if progress:
            progress(0.0, "waiting: the curves of another model are being computed first")
        _ONE_AT_A_TIME.acquire()
    try:
        return _curves(model, split, modes, progress, batch_size)
    finally:
        _ONE_AT_A_TIME.release()


def _curves(
    model: RowClassifier, split: Split, modes: tuple[str, ...], progress: Progress | None, batch_size: int
) -> TruncationResult:
    model.eval()
    n = len(split)
    preds = {m: np.empty((STEPS, n), np.int8) for m in modes}
    zero_row = model.proj(torch.zeros(1, 1, model.config.input_size))  # (1, 1, P)
    # work per image, in step-passes: notebook sum(k); the shared pass 28; the occlusion tails sum(28 - k)
    notebook, reading, occlusion = "notebook" in modes, bool({"early", "occlusion"} & set(modes)), "occlusion" in modes
    per_image = (notebook and STEPS * (STEPS + 1) // 2) + (reading and STEPS) + (occlusion and STEPS * (STEPS - 1) // 2)
    meter = _Meter(per_image * n, progress)
    batches = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    of = f"of {n:,}"

    if notebook:  # zeros, then the first k rows: every image starts from the same state after 28 - k zeros
        zeros = _zero_trajectory(model)
        for i, j in batches:
            rows = model.proj(split.images[i:j])  # (B, 28, P)
            for k in range(1, STEPS + 1):
                out, _ = _run(model, rows[:, :k], _expand(zeros[STEPS - k], j - i))  # (B, k, H)
                preds["notebook"][k - 1, i:j] = model.head(out[:, -1]).argmax(-1).numpy()
                meter(k * (j - i), f"notebook mode, k = {k} of {STEPS}, images {i + 1:,}–{j:,} {of}")
    if reading:  # one pass over the real rows, keeping the state after every k
        for i, j in batches:
            rows = model.proj(split.images[i:j])  # (B, 28, P)
            what = " and ".join(
                m if m == "occlusion" else "early readout" for m in ("early", "occlusion") if m in modes
            )
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
    if progress:
        progress(1.0, "done")
    return TruncationResult(preds, split.labels.numpy())


def _states_after_each_row(model: RowClassifier, rows: torch.Tensor) -> tuple[torch.Tensor, list[State]]:
    """rows (B, 28, P) -> (hidden states after every step (B, 28, H), the state after each k = 1..28).

    A GRU's or RNN's state is its hidden state, read off one pass; an LSTM's cell state is only
    returned at the end of a call, so it is run one row at a time.
    """
    if model.config.cell != "lstm":
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


# ---------------------------------------------------------------- cache


def split_key(split: Split) -> str:
    """sha256 of a test set's size, images and labels: results of another data folder are never reused."""
    h = hashlib.sha256(f"{tuple(split.images.shape)}".encode())
    h.update(split.images.contiguous().numpy().tobytes())
    h.update(split.labels.contiguous().numpy().astype(np.int64).tobytes())
    return h.hexdigest()


def user_cache_dir() -> Path:
    """$LSTMVIZ_CACHE_DIR, else ~/.cache/lstmviz."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lstmviz"


def cache_paths(checkpoint: str | os.PathLike | None, weights: str, data: str) -> list[Path]:
    """Where a result may be stored, in the order tried: beside the checkpoint (not in the shipped
    models folder, which is never written to), then the user cache folder."""
    paths = []
    if checkpoint is not None and Path(checkpoint).is_file():
        ckpt = Path(checkpoint).resolve()
        if ckpt.parent != MODELS_DIR.resolve():
            paths.append(ckpt.with_name(ckpt.name + CACHE_SUFFIX))
    paths.append(user_cache_dir() / f"{weights[:24]}-{data[:12]}{CACHE_SUFFIX}")
    return paths


def _read_cache(path: Path, weights: str, data: str | tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Predictions stored for these weights and this test set, or None (missing, stale, corrupt or
    odd-shaped: never an error, the curves are then computed again)."""
    found = _read_cache_labels(path, weights, (data,) if isinstance(data, str) else data)
    return None if found is None else found[0]


def _read_cache_labels(
    path: Path, weights: str, data: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if int(f["version"]) != CACHE_VERSION or str(f["weights"]) != weights or str(f["data"]) not in data:
                return None
            labels = f["labels"]
            preds = {m: f[f"pred_{m}"] for m in MODES if f"pred_{m}" in f.files}
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile):
        return None
    if labels.ndim != 1 or any(p.shape != (STEPS, labels.shape[0]) for p in preds.values()):
        return None
    return preds, labels


def read_precomputed(
    weights: str, split: Split, data: str, modes: Sequence[str] = MODES, full_on_sample: bool = True
) -> TruncationResult | None:
    """The shipped curves (models/precomputed/<name>.truncation.npz) of these weights on this test set, with
    every mode asked for; on the bundled sample (full_on_sample) also those of the full MNIST test set."""
    from .precompute import accepted_data, find_precomputed

    accepted = accepted_data(data, split) if full_on_sample else (data,)
    for path in find_precomputed("truncation", weights):
        found = _read_cache_labels(path, weights, accepted)
        if found is not None and all(m in found[0] for m in modes):
            return TruncationResult({m: found[0][m] for m in modes}, found[1])
    return None


def _cache_bytes(weights: str, data: str, result: TruncationResult) -> bytes:
    buf = io.BytesIO()
    arrays = {f"pred_{m}": p for m, p in result.predictions.items()}
    np.savez_compressed(
        buf,
        version=np.int64(CACHE_VERSION),
        weights=np.str_(weights),
        data=np.str_(data),
        labels=result.labels.astype(np.uint8),
        **arrays,
    )
    return buf.getvalue()


def write_truncation_file(path: Path, weights: str, data: str, result: TruncationResult) -> Path:
    """One cache file at `path` (`python -m lstmviz precompute` ships these in models/precomputed)."""
    return atomic_write_bytes(path, _cache_bytes(weights, data, result))


def _write_cache(paths: list[Path], weights: str, data: str, result: TruncationResult) -> Path | None:
    """Store the predictions in the first writable place; None when nowhere is writable."""
    buf = io.BytesIO(_cache_bytes(weights, data, result))
    for path in paths:
        try:
            return atomic_write_bytes(path, buf.getvalue())
        except OSError:
            continue
    return None


def _resolve(source: str | os.PathLike | LoadedModel | RowClassifier | None) -> tuple[RowClassifier, Path | None]:
    if isinstance(source, RowClassifier):
        return source, None
    if isinstance(source, LoadedModel):
        path = Path(source.source) if source.source and Path(source.source).is_file() else None
        return source.model, path
    loaded = load_checkpoint(source)
    return loaded.model, Path(loaded.source)


def cached_truncation(
    source: str | os.PathLike | LoadedModel | RowClassifier | None,
    split: Split,
    modes: Sequence[str] = MODES,
    progress: Progress | None = None,
    use_cache: bool = True,
    full_on_sample: bool = True,
) -> TruncationResult:
    """truncation_curves for a checkpoint (path, LoadedModel, bare model; None = shipped default),
    read from / written to a cache file keyed by the weights' hash and the test set.

    The shipped precomputed curves (`python -m lstmviz precompute`) are used first when they match; on
    the bundled sample they are the full test set's (full_on_sample; the result then has its 10,000
    labels). Only modes missing from the cache are computed; the file then holds the union.
    """
    modes = _check_modes(modes)
    model, path = _resolve(source)
    weights, data = weights_hash(model), split_key(split)
    if use_cache:
        shipped = read_precomputed(weights, split, data, modes, full_on_sample)
        if shipped is not None:
            if progress:
                progress(1.0, "loaded the precomputed curves")
            return shipped
    paths = cache_paths(path, weights, data)
    stored: dict[str, np.ndarray] = {}
    if use_cache:
        for p in paths:
            stored = _read_cache(p, weights, data) or {}
            if stored:
                break
    missing = [m for m in modes if m not in stored]
    if missing:
        fresh = truncation_curves(model, split, missing, progress)
        stored.update(fresh.predictions)
        if use_cache:
            _write_cache(paths, weights, data, TruncationResult(stored, fresh.labels))
    elif progress:
        progress(1.0, "loaded from cache")
    return TruncationResult({m: stored[m] for m in modes}, split.labels.numpy())


# ---------------------------------------------------------------- background job (for the app)


class TruncationJob:
    """cached_truncation in a daemon thread; progress and the result behind a lock (no streamlit)."""

    def __init__(
        self, source: LoadedModel | RowClassifier | str | os.PathLike | None, split: Split, modes: Sequence[str] = MODES
    ) -> None:
        self._lock = threading.Lock()
        self.fraction, self.message = 0.0, "starting"
        self.result: TruncationResult | None = None
        self.error: str | None = None
        self._thread = threading.Thread(
            target=self._work, args=(source, split, tuple(modes)), daemon=True, name="lstmviz-truncation"
        )
        self._thread.start()

    def _progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = fraction, message

    def _work(self, source, split: Split, modes: tuple[str, ...]) -> None:
        try:
            result = cached_truncation(source, split, modes, progress=self._progress)
        except Exception as exc:  # shown on the page instead of killing the thread silently
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.result, self.fraction, self.message = result, 1.0, "done"

    def status(self) -> tuple[float, str, TruncationResult | None, str | None]:
        """(fraction, message, result or None, error or None)."""
        with self._lock:
            return self.fraction, self.message, self.result, self.error

    def wait(self, timeout: float | None = None) -> TruncationResult | None:
        self._thread.join(timeout)
        return self.status()[2]
