"""Fault benchmark: every bad file and unlucky condition of issue 15 (and those handled before), one table.

Each case runs in a fresh Python process (the way one upload hits a server): the file is handed to
what the app uses (the sidebar's `import_upload`, the Draw page's `file_to_mnist`, `predict`), and the
process reports whether it was refused or accepted, the message, its peak memory above the baseline
(ru_maxrss), whether any code in the file ran (a marker file the payload would create) and whether
the app kept working afterwards (the shipped model still loads and reads a digit in that process).
The last rows time one refresh of the Train page's progress panel while a 30-epoch run trains.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_faults.py [--bomb-gb 2] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402  (tests/ is on the path only from here)

WORKER = textwrap.dedent(r"""
    import errno, json, os, resource, sys
    sys.path.insert(0, {tests!r})
    kind, path, name, marker, models = sys.argv[1:6]
    os.environ["LSTMVIZ_MODELS_DIR"] = models
    from lstmviz import registry
    from lstmviz.checkpoint import CheckpointError, DEFAULT_CHECKPOINT, load_checkpoint
    from lstmviz.preprocess import ImageError, file_to_mnist
    from lstmviz.predict import predict_paths
    if kind.startswith("errno:"):
        code = int(kind.split(":")[1])
        def fail(*a, **k):
            raise OSError(code, os.strerror(code))
        registry.atomic_write_bytes = fail
    if kind == "cap":
        os.environ[registry.MAX_MODELS_ENV_VAR] = "0"
    data = open(path, "rb").read() if kind not in ("predict",) else b""
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        if kind == "image":
            file_to_mnist(data)
            result, message = "accepted", ""
        elif kind == "predict":
            row = next(predict_paths(load_checkpoint().model, [path]))
            result, message = ("refused", row["error"]) if "error" in row else ("accepted", "")
        else:
            saved = registry.import_upload(name, data)
            info = registry.read_info(saved)
            result, message = "accepted", "listed (the sidebar escapes it to plain text) as: " + info.caption()
    except (CheckpointError, ImageError) as exc:
        result, message = "refused", str(exc)
    except Exception as exc:  # a crash: what the issue calls a traceback
        result, message = "CRASH", f"{{type(exc).__name__}}: {{exc}}"
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    try:  # does the app still work in this process?
        import numpy as np
        from lstmviz.evaluate import predict_proba
        probs = predict_proba(load_checkpoint(DEFAULT_CHECKPOINT).model, np.zeros((1, 28, 28), np.float32))
        works = bool(np.isfinite(probs).all())
    except Exception:
        works = False
    print(json.dumps({{"result": result, "message": message, "peak_mb": peak,
                      "code_ran": os.path.exists(marker), "works": works}}))
""").format(tests=str(ROOT / "tests"))


def run_case(kind: str, name: str, data: bytes | None, tmp: Path, marker: Path, path: str | None = None) -> dict:
    if path is None:
        path = str(tmp / "case.bin")
        Path(path).write_bytes(data or b"")
    models = tmp / f"models-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", WORKER, kind, path, name, str(marker), str(models)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - t0
    try:
        row = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        row = {
            "result": "WORKER DIED",
            "message": out.stderr.strip().splitlines()[-1:] or ["?"],
            "peak_mb": -1,
            "code_ran": marker.exists(),
            "works": False,
        }
    row["seconds"] = seconds
    return row


def cases(bomb_bytes: int, marker: str) -> list[tuple[str, str, str, bytes | None]]:
    """(label, kind, upload name, bytes)."""
    from PIL import Image
    from safetensors.torch import save as st_save

    from lstmviz.checkpoint import checkpoint_bytes
    from lstmviz.model import ModelConfig, build_model

    tiny = build_model(ModelConfig(hidden_size=16, embed_size=16), seed=0)
    good_st = checkpoint_bytes(tiny, {"test_accuracy": 0.5})
    good_pt = hostile.torch_bytes(hostile.tiny_state())
    out = [
        ("valid safetensors (control)", "upload", "ok.safetensors", good_st),
        ("valid .pt state dict (control)", "upload", "ok.pt", good_pt),
        (f".pt zip bomb ({bomb_bytes / 2**30:.0f} GB deflated)", "upload", "bomb.pt", hostile.zip_bomb_pt(bomb_bytes)),
        (".pt zip directory lying about sizes", "upload", "lying.pt", hostile.lying_zip_sizes_pt()),
        ("legacy pickle asking for 4 GB", "upload", "old.pt", hostile.legacy_pickle_bomb()),
    ]
    for kind, data in hostile.hostile_pickles(marker).items():
        out.append(
            (f"hostile pickle: {kind}", "upload", "evil.safetensors" if "safetensors" in kind else "evil.pt", data)
        )
    big = hostile.oversize_state(hidden=1024, embed=128)
    out += [
        ("projection of 27 inputs (.pt)", "upload", "w27.pt", hostile.wrong_shape_pt(input_size=27)),
        ("12 classes (.pt)", "upload", "c12.pt", hostile.wrong_shape_pt(n_classes=12)),
        ("1 class (safetensors)", "upload", "c1.safetensors", hostile.wrong_shape_safetensors(n_classes=1)),
        (
            "27 inputs, no metadata (safetensors)",
            "upload",
            "w27.safetensors",
            hostile.wrong_shape_safetensors(input_size=27, with_metadata=False),
        ),
        ("hidden size 1024 (19 MB .pt)", "upload", "h1024.pt", hostile.torch_bytes(big)),
        (
            "header claiming 65536 units",
            "upload",
            "huge.safetensors",
            st_save(
                {k: v.contiguous() for k, v in tiny.state_dict().items()},
                metadata={
                    "format": "lstmviz/1",
                    "config": '{"hidden_size": 65536, "embed_size": 65536}',
                    "metrics": "{}",
                },
            ),
        ),
        ("text file renamed .pt", "upload", "notes.pt", b"my lecture notes about LSTMs\n" * 40),
        ("text file renamed .safetensors", "upload", "notes.safetensors", b"my lecture notes about LSTMs\n" * 40),
        ("truncated safetensors", "upload", "cut.safetensors", good_st[: len(good_st) // 2]),
        ("truncated .pt", "upload", "cut.pt", good_pt[:-300]),
        ("NaN weights", "upload", "nan.safetensors", hostile.nan_safetensors()),
        ("empty file", "upload", "empty.safetensors", b""),
        ("random bytes .pt", "upload", "noise.pt", os.urandom(5000)),
        ("Markdown link in the recipe", "upload", "fancy.safetensors", hostile.markdown_recipe_safetensors()),
        ("upload into a full disk (ENOSPC)", "errno:28", "ok.pt", good_pt),
        ("upload into a read-only folder (EROFS)", "errno:30", "ok.pt", good_pt),
        ("upload over the models-folder cap", "cap", "ok.pt", good_pt),
        ("PNG 1 x 20,000,000", "image", "strip.png", hostile.png_bytes(1, 20_000_000)),
        ("PNG 20,000,000 x 1", "image", "strip.png", hostile.png_bytes(20_000_000, 1)),
        ("PNG 20,000 x 20,000 (decompression bomb)", "image", "bomb.png", hostile.png_bytes(20_000, 20_000)),
    ]
    digit = Image.new("L", (56, 56), 0)
    digit.paste(255, (26, 10, 31, 46))
    for fmt in ("WEBP", "BMP", "GIF"):
        buf = io.BytesIO()
        digit.save(buf, fmt)
        out.append((f"{fmt} picture of a digit", "image", f"digit.{fmt.lower()}", buf.getvalue()))
    return out


def refresh_cost(repeats: int = 30) -> dict:
    """In-process CPU of one Train-page curves refresh during a 30-epoch run: snapshot + both figures + JSON.

    The whole server's CPU per refresh, with real browsers, is `bench_train.py --refresh`."""
    import plotly.io
    import plotly.tools

    from lstmviz.figures.training import accuracy_figure, loss_figure
    from lstmviz.jobs.runs import JobSnapshot

    rng = __import__("numpy").random.default_rng(0)
    snap = JobSnapshot(1, "x", "run", state="running", total=469 * 30, steps_per_epoch=469, step=469 * 15)
    snap.loss_history = list(2.3 * rng.random(469 * 15))
    snap.eval_history = [{"step": i * 469, "epoch": i / 2, "accuracy": 0.9} for i in range(30)]
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        s = JobSnapshot(
            **{**snap.__dict__, "loss_history": list(snap.loss_history), "eval_history": list(snap.eval_history)}
        )
        figs = [
            loss_figure(s.loss_history, s.steps_per_epoch, epochs=30),
            accuracy_figure(
                {"run": ([e["epoch"] for e in s.eval_history], [e["accuracy"] for e in s.eval_history])}, epochs=30
            ),
        ]
        for f in figs:  # what st.plotly_chart does with a figure
            plotly.io.to_json(plotly.tools.return_figure_from_figure_or_data(f, validate_figure=True), validate=False)
        times.append((time.process_time() - t0) * 1000)
    times.sort()
    return {"median_ms": times[len(times) // 2], "p90_ms": times[int(len(times) * 0.9)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-gb", type=float, default=2.0, help="uncompressed size of the zip bomb (default 2)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        marker = tmp / "pwned"
        for label, kind, name, data in cases(int(args.bomb_gb * 2**30), str(marker)):
            rows.append((label, run_case(kind, name, data, tmp, marker)))
            print(f"{label}: {rows[-1][1]['result']}", file=sys.stderr)
        fifo = tmp / "pipe.png"
        os.mkfifo(fifo)
        rows.append(("predict /dev/zero", run_case("predict", "zero", None, tmp, marker, "/dev/zero")))
        rows.append(("predict a named pipe", run_case("predict", "pipe", None, tmp, marker, str(fifo))))
    cost = refresh_cost()
    if args.markdown:
        print("| case | result | message | peak memory | code ran | app works |")
        print("|---|---|---|---|---|---|")
        for label, r in rows:
            msg = str(r["message"]).replace("|", "/").replace("\n", " ")
            msg = msg[:140] + ("…" if len(msg) > 140 else "")
            print(
                f"| {label} | {r['result']} | {msg} | {r['peak_mb']:.0f} MB | {'YES' if r['code_ran'] else 'no'} | "
                f"{'yes' if r['works'] else 'NO'} |"
            )
    else:
        for label, r in rows:
            print(
                f"{label:45s} {r['result']:9s} peak {r['peak_mb']:6.0f} MB  code ran: "
                f"{'YES' if r['code_ran'] else 'no ':3s}  app works: {'yes' if r['works'] else 'NO'}  "
                f"{str(r['message'])[:110]}"
            )
    print(
        f"\nTrain page curves refresh (30-epoch run, half done, figures only): median {cost['median_ms']:.1f} ms, "
        f"p90 {cost['p90_ms']:.1f} ms of CPU (the server's whole refresh: bench_train.py --refresh)"
    )
    bad = [
        label
        for label, r in rows
        if r["code_ran"]
        or not r["works"]
        or r["result"] in ("CRASH", "WORKER DIED")
        or (r["result"] == "refused" and r["peak_mb"] > 100)
    ]
    print("all cases handled" if not bad else f"PROBLEMS: {bad}")


if __name__ == "__main__":
    main()
