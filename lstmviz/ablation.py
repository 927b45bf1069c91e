"""Which units matter: silence each unit in turn over the test set and measure the accuracy drop.

Silencing unit j holds h_j and c_j at 0 after every step, as `intervene.Intervention(silence=(j,))`
does. The input part of every gate (W_ih·x̃_t + b_ih) does not depend on the silenced unit, so it is
computed once per batch and shared by all H runs; only the recurrence is run per unit, keeping
nothing but the last h. In a stacked model one layer is ablated at a time (`layer`, default the top one,
as `Intervention(silence=(j,), layer=k)`): the layers below it run once per batch, the layers above it
run again for every unit, since they read its changed h. A lower layer's result is stored in its own file
(`<name>.ablation.l{k}.npz`); the top layer's keeps the one-layer name. `cached_ablation` stores the predictions per
weights hash and test set, in the places and with the keys of the truncation cache
(`truncation.cache_paths`, `truncation.split_key`); `precompute_ablation` writes the file for a
shipped model beside it in models/, where it is read (never written) by the app. No streamlit.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .background import BackgroundJob
from .checkpoint import LoadedModel, atomic_write_bytes, load_checkpoint, weights_hash
from .data import Split
from .model import RowClassifier
from .trace import check_supported, layer_weights, n_layers, resolve_layer
from .truncation import CACHE_SUFFIX, _resolve, cache_paths, split_key

ABLATION_SUFFIX = ".ablation.npz"
ABLATION_VERSION = 1
BATCH = 2000

Progress = Callable[[float, str], None]


@dataclass
class AblationResult:
    """Predictions of the intact model and with each unit silenced.

    baseline (N,) int8, predictions (H, N) int8 (row j: unit j silenced), labels (N,) int64;
    accuracy (H,), base_accuracy, drop (H,) = base_accuracy − accuracy (in [−1, 1]);
    layer: the layer (0..L-1) whose units were silenced.
    """

    baseline: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    seconds: float = 0.0
    layer: int = 0
    accuracy: np.ndarray = field(init=False)
    base_accuracy: float = field(init=False)
    drop: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, np.int64)
        n = max(1, self.labels.shape[0])
        self.base_accuracy = float((self.baseline == self.labels).sum() / n)
        self.accuracy = (self.predictions == self.labels[None]).sum(1) / n  # (H,)
        self.drop = self.base_accuracy - self.accuracy

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.predictions.shape[0])

    def per_class_drop(self) -> np.ndarray:
        """(H, 10): the accuracy drop within each true class (NaN for a class with no images)."""
        counts = np.bincount(self.labels, minlength=10).astype(np.float64)
        base = np.bincount(self.labels, weights=(self.baseline == self.labels).astype(np.float64), minlength=10)
        hits = np.stack(
            [
                np.bincount(self.labels, weights=(p == self.labels).astype(np.float64), minlength=10)
                for p in self.predictions
            ]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, (base[None] - hits) / counts, np.nan)

    def ranking(self) -> np.ndarray:
        """Units from the largest accuracy drop to the smallest (ties by unit number)."""
        return np.argsort(-self.drop, kind="stable")


def _input_part(weights: tuple[torch.Tensor, ...], xin: torch.Tensor) -> torch.Tensor:
    """W_ih·x̃_t + b_ih of one layer for every step: xin (B, T, P or H) -> (B, T, G*H)."""
    w_ih, _, b_ih, _ = weights
    return xin @ w_ih.T + b_ih


def _recur(
    cell: str, weights: tuple[torch.Tensor, ...], gx: torch.Tensor, keep: torch.Tensor | None, sequence: bool
) -> torch.Tensor:
    """The recurrence of `trace.run_layer` from the input part gx (B, T, G*H), h and c multiplied by keep (H,)
    after every step (0 = silenced); returns every h (B, T, H) if `sequence`, else only the last (B, H)."""
    _, w_hh, _, b_hh = weights  # (G*H, H), (G*H,)
    B, T, _ = gx.shape
    H = w_hh.shape[1]
    h = gx.new_zeros(B, H)
    c = gx.new_zeros(B, H)
    hs = []
    for t in range(T):
        gh = torch.addmm(b_hh, h, w_hh.T)  # (B, G*H)
        if cell == "lstm":
            i, f, g, o = (gx[:, t] + gh).chunk(4, dim=1)  # each (B, H)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            if keep is not None:
                c = c * keep
            h = o.sigmoid() * c.tanh()
        elif cell == "gru":
            xr, xz, xn = gx[:, t].chunk(3, dim=1)
            hr, hz, hn = gh.chunk(3, dim=1)
            r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
            h = (1 - z) * (xn + r * hn).tanh() + z * h
        else:
            h = (gx[:, t] + gh).tanh()
        if keep is not None:
            h = h * keep
        if sequence:
            hs.append(h)
    return torch.stack(hs, 1) if sequence else h


def final_hidden(model: RowClassifier, gx: torch.Tensor, keep: torch.Tensor | None, layer: int | None = None):
    """The recurrence of one layer (default: the top one) from its input part gx (B, T, G*H), h and c multiplied
    by keep (H,) after every step (0 = silenced); returns that layer's last h (B, H)."""
    k = resolve_layer(layer, n_layers(model))
    return _recur(model.config.cell, layer_weights(model, k), gx, keep, sequence=False)


class _Stack:
    """One batch of a model's run, split at layer k: the layers below run once (they do not depend on a unit
    of layer k), then `predict(keep)` runs layer k with units silenced and the layers above it."""

    def __init__(self, model: RowClassifier, images: torch.Tensor, k: int) -> None:
        self.model, self.k, self.L = model, k, n_layers(model)
        self.w = [layer_weights(model, j) for j in range(self.L)]
        cell, xin = model.config.cell, model.proj(images)  # (B, T, P)
        for j in range(k):
            xin = _recur(cell, self.w[j], _input_part(self.w[j], xin), None, sequence=True)  # (B, T, H)
        self.gx = _input_part(self.w[k], xin)  # (B, T, G*H), shared by every silenced unit

    def predict(self, keep: torch.Tensor | None) -> np.ndarray:
        cell, top = self.model.config.cell, self.L - 1
        h = _recur(cell, self.w[self.k], self.gx, keep, sequence=self.k < top)
        for j in range(self.k + 1, self.L):  # the layers above read the changed h
            h = _recur(cell, self.w[j], _input_part(self.w[j], h), None, sequence=j < top)
        return self.model.head(h).argmax(-1).numpy()  # (B,)


@torch.no_grad()
def unit_ablation(
    model: RowClassifier,
    split: Split,
    progress: Progress | None = None,
    batch_size: int = BATCH,
    units: list[int] | None = None,
    layer: int | None = None,
) -> AblationResult:
    """Silence each unit of one layer (default: the top one) in turn (or only `units`; the others' rows then
    equal the baseline) over `split`. In a stacked model the layers above read the silenced layer's h."""
    check_supported(model, "the unit ablation")
    start = time.perf_counter()
    model.eval()
    k = resolve_layer(layer, n_layers(model))
    H, n = model.config.hidden_size, len(split)
    todo = list(range(H)) if units is None else [int(u) for u in units]
    baseline = np.empty(n, np.int8)
    preds = np.empty((H, n), np.int8)
    n_batches = max(1, -(-n // batch_size))
    total, done = n_batches * (len(todo) + 1), 0
    where = f" of layer {k + 1}" if n_layers(model) > 1 else ""
    for i in range(0, n, batch_size):
        run = _Stack(model, split.images[i : i + batch_size], k)
        b = run.gx.shape[0]
        baseline[i : i + b] = run.predict(None)
        preds[:, i : i + b] = baseline[i : i + b][None]
        done += 1
        for u in todo:
            keep = torch.ones(H)
            keep[u] = 0.0
            preds[u, i : i + b] = run.predict(keep)
            done += 1
            if progress and (u % 4 == 3 or u == todo[-1]):
                progress(done / total, f"unit {u + 1} of {H}{where}, images {i + 1}-{i + b} of {n}")
    if progress:
        progress(1.0, "done")
    return AblationResult(baseline, preds, split.labels.numpy(), time.perf_counter() - start, layer=k)


# ---------------------------------------------------------------- cache


def layer_tag(layer: int, n_layers: int) -> str:
    """The part of a file name that says which layer was ablated: "" for the top layer, ".l{k}" below it."""
    return "" if layer == n_layers - 1 else f".l{layer}"


def ablation_paths(checkpoint: str | os.PathLike | None, weights: str, data: str, tag: str = "") -> list[Path]:
    """Where a result is written, in the order tried: the truncation cache's places with this suffix."""
    suffix = ABLATION_SUFFIX.replace(".npz", f"{tag}.npz")
    return [p.with_name(p.name[: -len(CACHE_SUFFIX)] + suffix) for p in cache_paths(checkpoint, weights, data)]


def shipped_path(checkpoint: str | os.PathLike, tag: str = "") -> Path:
    """The precomputed file of a checkpoint, with the other precomputed results:
    models/precomputed/<name>.ablation.npz (a lower layer of a stack: <name>.ablation.l{k}.npz)."""
    p = Path(checkpoint)
    return p.parent / "precomputed" / f"{p.name.removesuffix('.safetensors')}.ablation{tag}.npz"


def _encode(result: AblationResult, weights: str, data: str) -> bytes:
    buf = io.BytesIO()
    delta = ((result.predictions.astype(np.int16) - result.baseline[None]) % 10).astype(np.int8)  # mostly zeros
    np.savez_compressed(
        buf,
        version=np.int64(ABLATION_VERSION),
        weights=np.str_(weights),
        data=np.str_(data),
        labels=result.labels,
        baseline=result.baseline,
        delta=delta,
        seconds=np.float64(result.seconds),
        layer=np.int64(result.layer),
    )
    return buf.getvalue()


def read_ablation(path: Path, weights: str, data: str, layer: int | None = None) -> AblationResult | None:
    """The result stored for these weights, this test set and (if given) this layer, or None (missing, stale or
    unreadable). Files written before stacked models hold no layer: layer 0, a one-layer model's only one."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if int(f["version"]) != ABLATION_VERSION or str(f["weights"]) != weights or str(f["data"]) != data:
                return None
            stored = int(f["layer"]) if "layer" in f.files else 0
            if layer is not None and stored != layer:
                return None
            labels, baseline, delta, seconds = f["labels"], f["baseline"], f["delta"], float(f["seconds"])
    except (OSError, KeyError, ValueError, EOFError):
        return None
    if baseline.shape != labels.shape or delta.ndim != 2 or delta.shape[1] != labels.shape[0]:
        return None
    preds = ((baseline[None].astype(np.int16) + delta) % 10).astype(np.int8)
    return AblationResult(baseline.astype(np.int8), preds, labels, seconds, layer=stored)


def _write(paths: list[Path], blob: bytes) -> Path | None:
    for path in paths:
        try:
            return atomic_write_bytes(path, blob)
        except OSError:
            continue
    return None


def stored_ablation(
    source: str | os.PathLike | LoadedModel | RowClassifier | None,
    split: Split,
    keys: tuple[str, str] | None = None,
    layer: int | None = None,
) -> AblationResult | None:
    """The stored result for this model, test set and layer (default: the top one), or None: a read-only look
    at the cache (and a shipped model's precomputed file); keys = (weights hash, split key) when already known."""
    model, path = _resolve(source)
    weights, data = keys or (weights_hash(model), split_key(split))
    k = resolve_layer(layer, n_layers(model))
    tag = layer_tag(k, n_layers(model))
    for p in ablation_paths(path, weights, data, tag) + ([shipped_path(path, tag)] if path is not None else []):
        found = read_ablation(p, weights, data, k)
        if found is not None:
            return found
    return None


def cached_ablation(
    source: str | os.PathLike | LoadedModel | RowClassifier | None,
    split: Split,
    progress: Progress | None = None,
    use_cache: bool = True,
    layer: int | None = None,
) -> AblationResult:
    """unit_ablation of one layer (default: the top one) for a checkpoint (path, LoadedModel, bare model; None =
    shipped default), read from / written to a file keyed by the weights' hash, the test set and the layer; a
    shipped model's precomputed file is read too."""
    model, path = _resolve(source)
    weights, data = weights_hash(model), split_key(split)
    k = resolve_layer(layer, n_layers(model))
    paths = ablation_paths(path, weights, data, layer_tag(k, n_layers(model)))
    if use_cache:
        found = stored_ablation(source, split, (weights, data), k)
        if found is not None:
            if progress:
                progress(1.0, "loaded from cache")
            return found
    result = unit_ablation(model, split, progress, layer=k)
    if use_cache:
        _write(paths, _encode(result, weights, data))
    return result


def precompute_ablation(
    checkpoint_path: str | os.PathLike,
    split: Split,
    out_dir: str | os.PathLike,
    progress: Progress | None = None,
    layer: int | None = None,
) -> Path:
    """Compute the ablation of one layer (default: the top one) of a checkpoint and write
    `<out_dir>/<name>.ablation.npz` (a lower layer of a stack: `<name>.ablation.l{k}.npz`).

    With out_dir = models/precomputed (for a shipped model) the app finds it there."""
    loaded = load_checkpoint(checkpoint_path)
    weights, data = weights_hash(loaded.model), split_key(split)
    L = n_layers(loaded.model)
    k = resolve_layer(layer, L)
    out = Path(out_dir) / shipped_path(Path(checkpoint_path), layer_tag(k, L)).name
    existing = read_ablation(out, weights, data, k)
    if existing is not None:
        return out
    result = unit_ablation(loaded.model, split, progress, layer=k)
    return atomic_write_bytes(out, _encode(result, weights, data))


# ---------------------------------------------------------------- background job (for the app)


class AblationJob(BackgroundJob[AblationResult]):
    """cached_ablation in the background (no streamlit); status() has the shape of TruncationJob.status(), so the
    same poller shows both. `layer`: the layer ablated (default: the top one)."""

    def __init__(
        self,
        source: LoadedModel | RowClassifier | str | os.PathLike | None,
        split: Split,
        layer: int | None = None,
    ) -> None:
        self.layer = layer
        super().__init__(
            lambda progress: cached_ablation(source, split, progress=progress, layer=layer), "lstmviz-ablation"
        )
