"""What a training run is: a JobSpec of plain values (it crosses to the child process as JSON),
the limits the app accepts, and a rough duration estimate before it starts."""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from dataclasses import dataclass

from ..model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS, ModelConfig
from ..train import PRESETS, Recipe, make_recipe


@dataclass(frozen=True)
class JobSpec:
    """Everything a training run needs; plain values so it can cross to the child process."""

    preset: str = "default"
    epochs: int = 1
    hidden_size: int = 128
    num_layers: int = 1  # stacked recurrent layers, 1 to model.MAX_LAYERS
    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    n_train: int | None = None
    cell: str = "lstm"
    name: str | None = None
    data_dir: str | None = None
    models_dir: str | None = None
    eval_size: int = 2000  # training images held out (not trained on) for the live curve and the best weights
    evals_per_epoch: int | None = None  # None: about 20 evaluations over the run
    max_batches: int | None = None
    threads: int = 1
    nice: int = 10
    run_id: str = ""  # set when the job is created; saved in the checkpoint's metrics and the journal

    def recipe(self) -> Recipe:
        return make_recipe(
            self.preset,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            n_train=self.n_train,
        )

    def config(self) -> ModelConfig:
        return ModelConfig(cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers)

    def validate(self) -> None:
        """Raise ValueError with a clear message for values the app should not accept."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose from {sorted(PRESETS)}")
        r = self.recipe()
        checks = [
            (1 <= r.epochs <= 100, "epochs must be between 1 and 100"),
            (
                MIN_HIDDEN <= self.hidden_size <= MAX_HIDDEN,
                f"hidden size must be between {MIN_HIDDEN} and {MAX_HIDDEN}",
            ),
            (
                MIN_LAYERS <= self.num_layers <= MAX_LAYERS,
                f"the layer count must be between {MIN_LAYERS} and {MAX_LAYERS}",
            ),
            (0 < r.lr <= 1, "learning rate must be in (0, 1]"),
            (1 <= r.batch_size <= 4096, "batch size must be between 1 and 4096"),
            (r.n_train is None or 100 <= r.n_train <= 60_000, "training-set size must be between 100 and 60,000"),
            (1 <= self.eval_size <= 10_000, "evaluation size must be between 1 and 10,000"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.config()

    def n_images(self) -> int:
        return min(self.recipe().n_train or 60_000, 60_000 - self.eval_size)  # eval_size are held out

    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_images() / self.recipe().batch_size)

    def total_steps(self) -> int:
        planned = self.steps_per_epoch() * self.recipe().epochs
        return planned if self.max_batches is None else min(planned, self.max_batches)

    def live_evals_per_epoch(self) -> int:
        """Short runs evaluate several times an epoch so the accuracy curve moves while you watch."""
        if self.evals_per_epoch:
            return max(1, min(self.evals_per_epoch, self.steps_per_epoch()))
        return max(1, min(10, math.ceil(20 / self.recipe().epochs), self.steps_per_epoch()))

    def describe(self) -> str:
        r = self.recipe()
        return (
            f"{self.cell.upper()} with {self.layers_text()}, {r.preset} preset, {r.epochs} epoch"
            f"{'s' if r.epochs != 1 else ''} on {self.n_images():,} images (batch {r.batch_size}, lr {r.lr:g}, seed {r.seed})"
        )

    def layers_text(self) -> str:
        """'128 hidden units' or '2 layers of 128 hidden units'."""
        units = f"{self.hidden_size} hidden units"
        return units if self.num_layers == 1 else f"{self.num_layers} layers of {units}"

    def file_stem(self) -> str:
        if self.name and self.name.strip():
            return self.name
        when = _dt.datetime.now().strftime("%m%d-%H%M%S")
        layers = f"-l{self.num_layers}" if self.num_layers != 1 else ""
        return f"{self.cell}{layers}-h{self.hidden_size}-{when}"


def format_duration(seconds: float) -> str:
    """12 s, 3 min 20 s, 1 h 05 min."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def training_data_missing(data_dir: str | os.PathLike | None) -> str | None:
    """The clear message when the MNIST training files are not on disk (None when they are)."""
    from ..data import RAW_FILES, missing_message, resolve_data_dir

    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in RAW_FILES):
        return None
    return missing_message(root, "the training set is needed to train")


_CALIBRATION: dict[tuple, float] = {}


def seconds_per_image(cell: str, hidden_size: int, num_layers: int = 1) -> float:
    """Measured once per (cell, hidden size, layers): seconds of one-thread training per image, batch of 64."""
    key = (cell, hidden_size, num_layers)
    if key not in _CALIBRATION:
        import torch

        from ..model import build_model

        model = build_model(ModelConfig(cell=cell, hidden_size=hidden_size, num_layers=num_layers), seed=0)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = torch.rand(64, 28, 28), torch.randint(0, 10, (64,))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the training process uses one thread
        try:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
                best = min(best, time.perf_counter() - t0)
        finally:
            torch.set_num_threads(threads)
        _CALIBRATION[key] = best / 64
    return _CALIBRATION[key]


def estimate_seconds(spec: JobSpec) -> float:
    """A rough duration of a run before it starts: training, live evaluations and the final scoring."""
    per_image = seconds_per_image(spec.cell, spec.hidden_size, spec.num_layers)
    train_images = spec.total_steps() * spec.recipe().batch_size
    evals = spec.live_evals_per_epoch() * spec.recipe().epochs * spec.eval_size + 10_000
    overhead = 1.3 if spec.recipe().augment else 1.1  # augmentation, data loading
    return per_image * (train_images * overhead + evals / 3) + 5.0  # forward only is about a third; start-up
