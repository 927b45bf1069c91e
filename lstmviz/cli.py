"""Command line: `python -m lstmviz {train,evaluate,predict,...}`."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from dataclasses import replace
from pathlib import Path

from .checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint
from .data import ENV_VAR, DataUnavailableError
from .model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a clear usage error otherwise, not a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _int_in(lo: int, hi: int, what: str):
    """argparse type: an integer from lo to hi (a clear usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{what} must be from {lo} to {hi}, not {value}")
        return value

    return parse


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help=f"MNIST folder (default: ${ENV_VAR}, else ./data)")


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None, help=f"model file (default: {DEFAULT_CHECKPOINT.name} in models/)")


def cmd_train(args: argparse.Namespace) -> int:
    """Train a model and write its checkpoint atomically."""
    import torch
    from tqdm import tqdm

    from .checkpoint import save_checkpoint
    from .data import load_mnist
    from .model import ModelConfig
    from .train import make_recipe

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = make_recipe(
        args.preset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, n_train=args.n_train
    )
    if args.no_augment:
        recipe = replace(recipe, augment=None)
    try:
        config = ModelConfig(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.layers)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_split, test_split = load_mnist(args.data_dir)
    out = Path(args.out) if args.out else Path("models") / f"{args.cell}-{args.preset}.safetensors"
    max_batches = 20 if args.dry_run else None
    print(
        f"training {config.cell} layers={config.num_layers} H={config.hidden_size} preset={recipe.preset} epochs={recipe.epochs} "
        f"batch={recipe.batch_size} lr={recipe.lr} seed={recipe.seed} -> {out}",
        file=sys.stderr,
    )
    bar = tqdm(total=None, unit="batch", dynamic_ncols=True, file=sys.stderr)

    def on_progress(p) -> None:
        if bar.total is None:
            bar.total = p.total_steps
        if p.kind == "batch":
            bar.update(1)
            bar.set_postfix(epoch=f"{p.epoch:.2f}", loss=f"{p.loss:.4f}")
        else:
            bar.write(
                f"epoch {p.epoch:5.2f}  loss {p.loss:.4f}  test accuracy {p.heldout_accuracy:.4f}", file=sys.stderr
            )

    from .train import train

    result = train(train_split, test_split, recipe, config, on_progress=on_progress, max_batches=max_batches)
    bar.close()
    metrics = dict(
        result.metrics,
        test_accuracy=result.metrics["heldout_accuracy"],  # the evaluated split is the test set
        date=_dt.date.today().isoformat(),
        n_test=len(test_split),
        config=config.to_dict(),
        command=args.command_line,
    )
    metrics["history"] = result.history
    if args.dry_run and not args.out:
        print(json.dumps({k: v for k, v in metrics.items() if k != "history"}))
        print("dry run: no checkpoint written (pass --out to write one)", file=sys.stderr)
        return 0
    save_checkpoint(out, result.model, metrics)
    print(json.dumps({"checkpoint": str(out), "test_accuracy": metrics["test_accuracy"]}))
    return 0


def _test_or_sample(data_dir: str | None):
    """The test split, else the bundled sample (saying so on stderr)."""
    from .data import load_test_or_sample

    test, note = load_test_or_sample(data_dir)
    if note:
        print(f"note: {note.replace('`', '')}", file=sys.stderr)
    return test


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Test accuracy of a checkpoint (on the bundled sample when the test set is missing)."""
    from .evaluate import accuracy

    loaded = load_checkpoint(args.checkpoint)
    test = _test_or_sample(args.data_dir)
    result = {
        "test_accuracy": accuracy(loaded.model, test),
        "n": len(test),
        "data": test.describe(),
        "checkpoint": str(loaded.source),
    }
    if args.json:
        print(json.dumps(result))
    else:
        where = " of the bundled sample" if test.is_sample else ""
        print(f"{result['checkpoint']}: test accuracy {result['test_accuracy']:.4%} on {result['n']} images{where}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict digits in image files or folders of them."""
    from .predict import predict_paths

    loaded = load_checkpoint(args.checkpoint)
    failures = 0
    for row in predict_paths(loaded.model, args.paths):
        failures += "error" in row
        if args.json:
            print(json.dumps(row), flush=True)
        elif "error" in row:
            print(f"{row['path']}: error: {row['error']}", flush=True)
        else:
            p = row["probabilities"][row["label"]]
            print(f"{row['path']}: {row['label']} ({p:.1%})", flush=True)
    return 1 if failures else 0


def cmd_truncation(args: argparse.Namespace) -> int:
    """Accuracy against rows fed (k = 1..28) in each truncation mode, cached per checkpoint and test set."""
    from tqdm import tqdm

    from .truncation import MODES, cached_truncation

    loaded = load_checkpoint(args.checkpoint)
    full = _test_or_sample(args.data_dir)
    test = full.subset(args.n)
    data = full.describe() if len(test) == len(full) else f"first {len(test):,} of {full.describe()}"
    modes = tuple(dict.fromkeys(args.mode or MODES))
    bar = tqdm(total=100, unit="%", dynamic_ncols=True, file=sys.stderr, disable=None)

    def on_progress(fraction: float, message: str) -> None:
        bar.update(round(100 * fraction) - bar.n)
        bar.set_description(message[:40])

    result = cached_truncation(
        loaded, test, modes, progress=on_progress, use_cache=not args.no_cache, full_on_sample=False
    )
    bar.close()
    if args.json:
        print(json.dumps({"checkpoint": str(loaded.source), "n": result.n, "data": data, "modes": result.curves()}))
        return 0
    print(f"{loaded.source}: accuracy after k rows on the {data} images")
    print("   k  " + "  ".join(f"{m:>9}" for m in modes))
    for k in result.k:
        print(f"  {k:2d}  " + "  ".join(f"{result.accuracy[m][k - 1]:9.2%}" for m in modes))
    return 0


def cmd_ablation(args: argparse.Namespace) -> int:
    """Accuracy drop when each unit is silenced in turn, cached per checkpoint and test set."""
    from tqdm import tqdm

    from .ablation import cached_ablation
    from .data import load_split

    loaded = load_checkpoint(args.checkpoint)
    test = load_split(False, args.data_dir).subset(args.n)
    bar = tqdm(total=100, unit="%", dynamic_ncols=True, file=sys.stderr, disable=None)

    def on_progress(fraction: float, message: str) -> None:
        bar.update(round(100 * fraction) - bar.n)
        bar.set_description(message[:40])

    L = loaded.config.num_layers
    if args.layer is not None and not 1 <= args.layer <= L:
        print(f"error: --layer must be from 1 to {L} for this model, not {args.layer}", file=sys.stderr)
        return 2
    layer = None if args.layer is None else args.layer - 1
    result = cached_ablation(loaded, test, progress=on_progress, use_cache=not args.no_cache, layer=layer)
    bar.close()
    order = result.ranking()
    if args.json:
        print(
            json.dumps(
                {
                    "checkpoint": str(loaded.source),
                    "n": result.n,
                    "base_accuracy": result.base_accuracy,
                    "accuracy": [float(a) for a in result.accuracy],
                    "drop": [float(d) for d in result.drop],
                    "ranking": [int(u) for u in order],
                    "seconds": result.seconds,
                    "layer": result.layer + 1,
                    "n_layers": L,
                }
            )
        )
        return 0
    where = f" of layer {result.layer + 1} of {L}" if L > 1 else ""
    print(f"{loaded.source}: accuracy {result.base_accuracy:.2%} on {result.n} test images; silencing one unit{where}:")
    for u in order[: args.top]:
        print(f"  unit {u:4d}  {result.accuracy[u]:7.2%}  drop {100 * result.drop[u]:+6.2f} points")
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    """Compute, once, what the pages need over the test set for the given checkpoints, and write it as small
    files keyed by the weights' hash and the data's hash (models/precomputed/<name>.<what>.npz)."""
    import time

    from .ablation import precompute_ablation
    from .checkpoint import weights_hash
    from .data import load_split
    from .precompute import PRECOMPUTED_DIR, precompute_model, precomputed_path
    from .truncation import cached_truncation, split_key, write_truncation_file

    test = load_split(False, args.data_dir)  # the full test set: never precompute on the sample
    data = split_key(test)
    out = Path(args.out) if args.out else PRECOMPUTED_DIR
    paths = args.checkpoints or sorted(str(p) for p in DEFAULT_CHECKPOINT.parent.glob("*.safetensors"))
    written = []
    for path in paths:
        loaded = load_checkpoint(path)
        stem, weights = Path(path).name.removesuffix(".safetensors"), weights_hash(loaded.model)
        start = time.monotonic()
        files = precompute_model(
            loaded.model, stem, test, weights, data, out, progress=lambda text: print(text, file=sys.stderr, flush=True)
        )
        print(f"{stem}: truncation curves", file=sys.stderr, flush=True)
        result = cached_truncation(loaded.model, test)  # reuses the user cache of these weights and data
        files.append(write_truncation_file(precomputed_path(stem, "truncation", out), weights, data, result))
        for k in reversed(range(loaded.config.num_layers)):  # read there by the Neuron explorer
            where = f" of layer {k + 1}" if loaded.config.num_layers > 1 else ""
            print(f"{stem}: accuracy drop of each silenced unit{where}", file=sys.stderr, flush=True)
            files.append(precompute_ablation(path, test, out, layer=k))
        written += [str(f) for f in files]
        print(f"{stem}: {len(files)} files in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    print(json.dumps({"data": test.describe(), "files": written}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lstmviz", description="An LSTM that reads MNIST row by row.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model (progress bar, test accuracy per epoch)")
    p.add_argument("--preset", choices=["default", "notebook"], default="default", help="recipe (default: default)")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument(
        "--hidden",
        "--hidden-size",
        dest="hidden_size",
        type=_int_in(MIN_HIDDEN, MAX_HIDDEN, "--hidden"),
        default=128,
        help=f"units per recurrent layer, {MIN_HIDDEN} to {MAX_HIDDEN} (default: 128)",
    )
    p.add_argument(
        "--layers",
        type=_int_in(MIN_LAYERS, MAX_LAYERS, "--layers"),
        default=1,
        help=f"stacked recurrent layers, {MIN_LAYERS} to {MAX_LAYERS} (default: 1)",
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=None, help="override the preset's epochs (default 30; notebook 5)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, help="override the preset's batch size (default: 128)"
    )
    p.add_argument(
        "--lr", type=float, default=None, help="override the preset's peak learning rate (3e-3; notebook 1e-3)"
    )
    p.add_argument(
        "--n-train", type=_positive_int, default=None, help="use the first N training images (notebook: 55000)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-augment", action="store_true", help="switch off the default preset's augmentation")
    p.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", default=None, help="checkpoint to write (default: models/<cell>-<preset>.safetensors)")
    p.add_argument("--dry-run", action="store_true", help="run 20 batches only")
    _add_data_dir(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy of a checkpoint")
    _add_checkpoint(p)
    _add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict digits in image files (PNG, JPEG, WebP, BMP, GIF) or folders")
    p.add_argument("paths", nargs="+", help="image files or folders of them")
    _add_checkpoint(p)
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("truncation", help="test accuracy against rows fed, k = 1..28 (cached per checkpoint)")
    _add_checkpoint(p)
    _add_data_dir(p)
    p.add_argument(
        "--mode",
        action="append",
        choices=["notebook", "early", "occlusion"],
        help="truncation mode; repeat for several (default: all three)",
    )
    p.add_argument("--n", type=_positive_int, default=None, help="use the first N test images (default: all)")
    p.add_argument("--no-cache", action="store_true", help="recompute, and do not read or write the cache file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_truncation)

    p = sub.add_parser("ablation", help="accuracy drop when each unit is silenced in turn (cached per checkpoint)")
    _add_checkpoint(p)
    _add_data_dir(p)
    p.add_argument("--n", type=_positive_int, default=None, help="use the first N test images (default: all)")
    p.add_argument("--top", type=_positive_int, default=20, help="units listed, largest drop first (default: 20)")
    p.add_argument(
        "--layer", type=_positive_int, default=None, help="layer of a stacked model, 1 = the first (default: the top)"
    )
    p.add_argument("--no-cache", action="store_true", help="recompute, and do not read or write the cache file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_ablation)

    p = sub.add_parser("precompute", help="compute what the app shows over the test set, once, for shipped models")
    p.add_argument("checkpoints", nargs="*", help="checkpoint files (default: every models/*.safetensors)")
    p.add_argument("--out", default=None, help="folder to write to (default: models/precomputed)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_precompute)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; clear one-line errors (exit 2) for missing data and bad checkpoints."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["python -m lstmviz", *argv])
    try:
        return args.func(args)
    except DataUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no checkpoint was written; any previous file is intact", file=sys.stderr)
        return 130
