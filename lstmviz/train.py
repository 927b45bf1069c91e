"""Training: recipes (presets), one train() that takes its dependencies as arguments.

`train` reports progress through a callback and can be stopped through a threading.Event,
so the CLI (tqdm) and the app (a background thread) drive the same loop.

Which data for which job: the model is fitted on training images only. The split that `train`
evaluates during the run (the live accuracy curve, and the choice of `best_model`) must be held
out from the training images (`hold_out`), never the test set, whenever those evaluations decide
anything; the test set is read once, after training, to report the saved model's accuracy.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F

from .augment import AugmentConfig, augment_batch
from .data import Split
from .evaluate import accuracy
from .model import ModelConfig, RowClassifier, build_model


@dataclass(frozen=True)
class Recipe:
    """How a model is trained."""

    preset: str = "default"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"  # or "constant"
    warmup_epochs: float = 0.5  # onecycle: epochs of rising learning rate
    clip_norm: float | None = 1.0
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    label_smoothing: float = 0.05
    n_train: int | None = None  # first n training images; None = all 60,000
    init: str = "torch"  # or "notebook"
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augment"] = self.augment.to_dict() if self.augment else None
        return d


PRESETS: dict[str, Recipe] = {
    # The original notebook: Adam 1e-3, batch 128, 5 epochs, 55,000 images, N(0,1) linear init.
    "notebook": Recipe(
        preset="notebook",
        epochs=5,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        schedule="constant",
        clip_norm=None,
        augment=None,
        label_smoothing=0.0,
        n_train=55_000,
        init="notebook",
    ),
    "default": Recipe(),
}


def make_recipe(preset: str = "default", **overrides) -> Recipe:
    """A preset with some fields replaced (None values are ignored)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    return replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})


def hold_out(split: Split, n_val: int) -> tuple[Split, Split]:
    """(fit, validation): the last n_val images of a training split are held out, the rest are trained on.

    A recipe's `n_train` then takes the first images of `fit`, so the two never overlap.
    """
    n = len(split)
    if not 1 <= n_val < n:
        raise ValueError(f"the validation split must hold 1 to {n - 1:,} of the {n:,} training images, not {n_val:,}")
    cut = n - n_val
    return Split(split.images[:cut], split.labels[:cut]), Split(split.images[cut:], split.labels[cut:])


def _shares_images(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two image tensors view overlapping memory (e.g. an evaluation split sliced from the training set)."""
    if a.numel() == 0 or b.numel() == 0 or a.untyped_storage().data_ptr() != b.untyped_storage().data_ptr():
        return False
    size = a.element_size()
    a0, b0 = a.storage_offset() * size, b.storage_offset() * size
    a1 = a0 + (sum((n - 1) * s for n, s in zip(a.shape, a.stride(), strict=True)) + 1) * size
    b1 = b0 + (sum((n - 1) * s for n, s in zip(b.shape, b.stride(), strict=True)) + 1) * size
    return a0 < b1 and b0 < a1


@dataclass
class Progress:
    """One progress event: kind is 'batch' or 'eval' (heldout_accuracy: accuracy on the evaluated split)."""

    kind: str
    epoch: float
    step: int
    total_steps: int
    loss: float
    elapsed: float
    eta: float
    heldout_accuracy: float | None = None


def heldout_of(entry: object) -> float | None:
    """The held-out accuracy of one history entry; checkpoints saved before the rename call it `test_accuracy`."""
    if not isinstance(entry, dict):
        return None
    for key in ("heldout_accuracy", "test_accuracy"):
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


@dataclass
class TrainResult:
    model: RowClassifier
    metrics: dict
    history: list[dict]
    best_model: RowClassifier
    stopped: bool = False


def _make_optimizer(model: RowClassifier, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.weight_decay:
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=recipe.lr)
    return torch.optim.Adam(model.parameters(), lr=recipe.lr)


def _make_schedule(opt: torch.optim.Optimizer, recipe: Recipe, total: int):
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=recipe.lr,
            total_steps=total,
            pct_start=min(0.5, recipe.warmup_epochs / max(recipe.epochs, 1)),
            div_factor=10.0,
            final_div_factor=200.0,
        )
    if recipe.schedule == "constant":
        return None
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def train(
    train_split: Split,
    eval_split: Split | None,
    recipe: Recipe,
    config: ModelConfig | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    max_batches: int | None = None,
    evals_per_epoch: int = 1,
) -> TrainResult:
    """Train a fresh model on `train_split`; evaluate on `eval_split` `evals_per_epoch` times an epoch.

    `max_batches` caps the run (for --dry-run and tests); `stop` ends it cleanly after the
    current batch. The returned metrics describe the final model; `best_model` is the one
    with the best evaluated accuracy (used when a run is stopped). Whoever keeps `best_model`
    must pass a validation split held out from the training images (`hold_out`), never test
    digits: the choice is then made on data the run did not train on, and the test set stays
    unseen until the kept model is scored. The history's and Progress's `heldout_accuracy`, and the
    metrics' `heldout_accuracy` (final model) and `best_heldout_accuracy`, are accuracies on
    `eval_split`, whatever that split is: a caller that evaluates on the test set says so itself.
    An `eval_split` that shares images with the training images is refused.
    """
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    config = config or ModelConfig()
    model = build_model(config, seed=recipe.seed)
    if recipe.init == "notebook":
        model.init_notebook_()
    data = train_split.subset(recipe.n_train)
    n = len(data)
    if n == 0:
        raise ValueError("train() needs at least one training image")
    if eval_split is not None and _shares_images(eval_split.images, data.images):
        raise ValueError("the evaluation split shares images with the training images: hold it out (train.hold_out)")
    per_epoch = math.ceil(n / recipe.batch_size)
    planned = per_epoch * recipe.epochs  # the schedule always spans the whole recipe
    total = planned if max_batches is None else min(planned, max_batches)
    opt = _make_optimizer(model, recipe)
    sched = _make_schedule(opt, recipe, max(planned, 1))
    eval_at = {min(per_epoch, round(per_epoch * (j + 1) / evals_per_epoch)) for j in range(evals_per_epoch)}

    history: list[dict] = []
    best_acc, best_state = -1.0, copy.deepcopy(model.state_dict())
    step, train_time, stopped, last_loss = 0, 0.0, False, float("nan")
    while step < total and not stopped:
        perm = torch.randperm(n, generator=gen)
        for b in range(per_epoch):
            if step >= total:
                break
            if stop is not None and stop.is_set():
                stopped = True
                break
            t0 = time.perf_counter()
            idx = perm[b * recipe.batch_size : (b + 1) * recipe.batch_size]
            x = data.images[idx]  # (B, 28, 28)
            if recipe.augment is not None:
                x = augment_batch(x, recipe.augment, gen)
            model.train()
            loss = F.cross_entropy(model(x), data.labels[idx], label_smoothing=recipe.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_norm)
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            train_time += time.perf_counter() - t0
            last_loss = loss.item()
            eta = train_time / step * (total - step)
            epoch = step / per_epoch
            if on_progress:
                on_progress(Progress("batch", epoch, step, total, last_loss, train_time, eta))
            if eval_split is not None and ((b + 1) in eval_at or step == total):
                acc = accuracy(model, eval_split)
                history.append(
                    {
                        "epoch": round(epoch, 4),
                        "step": step,
                        "train_time": train_time,
                        "loss": last_loss,
                        "heldout_accuracy": acc,
                    }
                )
                if acc > best_acc:
                    best_acc, best_state = acc, copy.deepcopy(model.state_dict())
                if on_progress:
                    on_progress(Progress("eval", epoch, step, total, last_loss, train_time, eta, acc))

    model.eval()
    best = build_model(config)
    best.load_state_dict(best_state)
    best.eval()
    final_acc = history[-1]["heldout_accuracy"] if history and history[-1]["step"] == step else None
    metrics = {
        "heldout_accuracy": final_acc,
        "best_heldout_accuracy": best_acc if best_acc >= 0 else None,
        "epochs": round(step / per_epoch, 4),
        "steps": step,
        "train_seconds": round(train_time, 2),
        "final_loss": last_loss,
        "recipe": recipe.to_dict(),
        "seed": recipe.seed,
        "stopped": stopped,
    }
    return TrainResult(model, metrics, history, best, stopped)
