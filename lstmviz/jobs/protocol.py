"""The training process and how the server talks to it.

The child is a plain `python -c` subprocess rather than multiprocessing's spawn, which re-runs the
parent's main script in the child (under `streamlit run` that is the streamlit CLI). It reads its
JobSpec as one JSON line on stdin; "stop" on stdin, or stdin closing because the server went away,
sets the threading.Event that train() checks after every batch, so the run ends cleanly and keeps
the best model so far. Progress comes back as JSON lines on stdout, `[kind, payload]`:
"status" (text), "started" ({total, steps_per_epoch}), "progress" (a train.Progress as a dict),
"saved" ({path}) and, last, "done" ({state, path, metrics, message}, plus {stem, checkpoint} as
base64 safetensors bytes when the folder could not take the file: the server keeps it in memory).
The child saves the checkpoint itself, as a new file in the user models folder.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .journal import write_journal
from .spec import JobSpec


def launch(spec: JobSpec, started: Callable[[int], None] | None = None) -> subprocess.Popen:
    """Start the training process, call `started(pid)`, then hand it its spec; read it with `read_messages`."""
    root = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", "from lstmviz.jobs.protocol import child_main; child_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=root,
    )
    if started is not None:
        started(process.pid)
    process.stdin.write(json.dumps(asdict(spec)) + "\n")
    process.stdin.flush()
    return process


def ask_to_stop(process: subprocess.Popen) -> None:
    """Ask the child to end after the current batch (it then saves the best model so far)."""
    try:
        process.stdin.write("stop\n")
        process.stdin.flush()
    except (OSError, ValueError, AttributeError):  # already gone
        pass


def read_messages(process: subprocess.Popen):
    """Yield (kind, payload) for each protocol line the child writes, until it closes stdout."""
    for line in process.stdout:
        try:
            kind, payload = json.loads(line)
        except ValueError:
            continue
        yield kind, payload


def train_and_save(spec: JobSpec, send, stop: threading.Event) -> None:
    """Load MNIST, train, save a new checkpoint; report every step through `send(kind, payload)`."""
    import torch

    from ..data import load_split
    from ..evaluate import accuracy
    from ..registry import save_new_checkpoint, user_models_dir
    from ..train import hold_out, train

    torch.set_num_threads(max(1, spec.threads))
    send("status", "Loading MNIST…")
    train_split, test_split = load_split(True, spec.data_dir), load_split(False, spec.data_dir)
    train_split, eval_split = hold_out(train_split, spec.eval_size)  # the best weights are never chosen on test digits
    recipe, config = spec.recipe(), spec.config()
    send("started", {"total": spec.total_steps(), "steps_per_epoch": spec.steps_per_epoch()})
    result = train(
        train_split,
        eval_split,
        recipe,
        config,
        on_progress=lambda p: send("progress", asdict(p)),
        stop=stop,
        max_batches=spec.max_batches,
        evals_per_epoch=spec.live_evals_per_epoch(),
    )
    steps = result.metrics["steps"]
    if result.stopped and not result.history:
        send(
            "done",
            {
                "state": "stopped",
                "path": None,
                "metrics": {},
                "message": f"Stopped after {steps} batches, before the first evaluation: nothing was saved.",
            },
        )
        return
    model = result.best_model if result.stopped else result.model
    best = max(result.history, key=lambda h: h["heldout_accuracy"])
    send("status", f"Scoring the {'best' if result.stopped else 'trained'} model on {len(test_split):,} test digits…")
    metrics = dict(result.metrics)
    metrics.update(
        name=spec.file_stem(),
        source="trained",
        date=_dt.datetime.now().isoformat(timespec="seconds"),
        config=config.to_dict(),
        test_accuracy=accuracy(model, test_split),
        n_test=len(test_split),
        eval_size=len(eval_split),
        eval_accuracy=best["heldout_accuracy"] if result.stopped else result.history[-1]["heldout_accuracy"],
        saved=f"best so far (step {best['step']})" if result.stopped else "final",
        history=result.history,
        command="lstmviz app: Train a model",
        run_id=spec.run_id,
    )
    path = _save_or_keep(spec, model, metrics, send, save_new_checkpoint, spec.models_dir or user_models_dir())
    if path is None:
        return
    if result.stopped:
        message = (
            f"Stopped after {steps} batches; saved the best model so far (step {best['step']}, "
            f"test accuracy {metrics['test_accuracy']:.2%}) as {path.name}."
        )
    else:
        message = f"Finished: test accuracy {metrics['test_accuracy']:.2%}; saved as {path.name}."
    send(
        "done",
        {
            "state": "stopped" if result.stopped else "finished",
            "path": str(path),
            "metrics": metrics,
            "message": message,
        },
    )


def _save_or_keep(spec: JobSpec, model, metrics: dict, send, save, folder) -> Path | None:
    """Save the trained model as a new file; if the folder cannot take it, send its bytes to the server.

    Returns the path, or None when the checkpoint went back to the server ("unsaved"): the page then
    offers a download and another try, so a full disk never loses a finished run.
    """
    from ..checkpoint import CheckpointError, checkpoint_bytes

    try:
        path = save(folder, spec.file_stem(), model, metrics)
    except CheckpointError as exc:
        data = checkpoint_bytes(model, metrics)
        message = (
            f"Trained (test accuracy {metrics['test_accuracy']:.2%}), but {exc} The trained weights are "
            "kept in memory: download them below, or try the save again once there is room."
        )
        send(
            "done",
            {
                "state": "unsaved",
                "path": None,
                "metrics": metrics,
                "message": message,
                "stem": spec.file_stem(),
                "checkpoint": base64.b64encode(data).decode("ascii"),
            },
        )
        return None
    send("saved", {"path": str(path)})
    return path


def child_main() -> None:
    """Entry point of the training process (see the module docstring for the protocol)."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (e.g. downloads) go to the log
    lock = threading.Lock()

    stop = threading.Event()
    spec = JobSpec(**json.loads(sys.stdin.readline()))

    def send(kind: str, payload) -> None:
        if kind == "done" and spec.models_dir and spec.run_id:  # the journal outlives the server
            write_journal(
                spec.models_dir,
                spec.run_id,
                state=payload["state"],
                path=payload["path"],
                message=str(payload["message"])[:500],
            )
        with lock:
            try:
                out.write(json.dumps([kind, payload]) + "\n")
                out.flush()
            except (OSError, ValueError):  # the server is gone: keep going, stdin EOF has asked to stop
                pass

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()  # "stop", or the server closed the pipe

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        os.nice(spec.nice)
    except (OSError, AttributeError):
        pass
    try:
        train_and_save(spec, send, stop)
    except Exception as exc:  # reported to the page; the traceback goes to the server log
        traceback.print_exc()
        send(
            "done",
            {
                "state": "failed",
                "path": None,
                "metrics": {},
                "message": f"Training failed: {str(exc).strip() or type(exc).__name__}",
            },
        )
