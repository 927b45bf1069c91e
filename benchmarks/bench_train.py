"""Benchmark: seconds per epoch and time to reach 97.3% test accuracy, notebook vs default preset.

Both presets train in one run on this machine; each stops as soon as an evaluation (4 per
epoch) reaches the target. Training time excludes evaluation time.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_train.py [--target 0.973] [--max-epochs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.data import load_mnist  # noqa: E402
from lstmviz.train import make_recipe, train  # noqa: E402


def time_to_target(preset: str, target: float, max_epochs: int, data_dir: str | None, seed: int) -> dict:
    """Train `preset` until test accuracy >= target (or max_epochs); report timings."""
    train_split, test_split = load_mnist(data_dir)
    recipe = make_recipe(preset, seed=seed)
    if recipe.epochs < max_epochs and recipe.schedule == "constant":
        recipe = replace(recipe, epochs=max_epochs)  # a constant LR can simply run on
    stop = threading.Event()
    reached: dict = {}

    def on_progress(p) -> None:
        if p.kind == "eval":
            print(
                f"  {preset:8s} epoch {p.epoch:5.2f}  {p.elapsed:7.1f} s  test accuracy {p.heldout_accuracy:.4f}",
                flush=True,
            )
            if p.heldout_accuracy >= target and not reached:
                reached.update(seconds=p.elapsed, epoch=p.epoch, accuracy=p.heldout_accuracy)
                stop.set()

    result = train(
        train_split, test_split, recipe, on_progress=on_progress, stop=stop, evals_per_epoch=4, max_batches=None
    )
    epochs = result.metrics["epochs"]
    return {
        "preset": preset,
        "seconds_per_epoch": result.metrics["train_seconds"] / epochs if epochs else None,
        "seconds_to_target": reached.get("seconds"),
        "epochs_to_target": reached.get("epoch"),
        "best_accuracy": result.metrics["best_heldout_accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.973, help="test accuracy to reach (default: 0.973)")
    parser.add_argument("--max-epochs", type=int, default=10, help="cap for the notebook preset (default: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    rows = [time_to_target(p, args.target, args.max_epochs, args.data_dir, args.seed) for p in ("notebook", "default")]
    print()
    print(f"{'preset':10s} {'s/epoch':>8s} {'s to ' + format(args.target, '.1%'):>12s} {'epochs':>7s}")
    for r in rows:
        s = f"{r['seconds_to_target']:.1f}" if r["seconds_to_target"] is not None else "not reached"
        e = f"{r['epochs_to_target']:.2f}" if r["epochs_to_target"] is not None else "-"
        print(f"{r['preset']:10s} {r['seconds_per_epoch']:8.1f} {s:>12s} {e:>7s}")
    nb, df = rows
    if nb["seconds_to_target"] and df["seconds_to_target"]:
        ratio = df["seconds_to_target"] / nb["seconds_to_target"]
        print(
            f"default needs {ratio:.2f}x the notebook preset's time (target: <= 0.50x): {'PASS' if ratio <= 0.5 else 'FAIL'}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
