"""Training jobs for the app: one run of lstmviz.train.train, watched from a Streamlit page.

Why a child process rather than a thread in the server:
- torch.set_num_threads is process-wide, so a thread could not train on one core without also
  slowing every other session's inference; the child sets its own thread count and a lower CPU
  priority (nice), leaving the server process and its sessions the rest of the machine;
- the child has its own GIL, so the Python parts of the training loop never stall the server;
- a crash (or running out of memory) in the child cannot take the server down.
The child is a plain `python -c` subprocess rather than multiprocessing's spawn, which re-runs the
parent's main script in the child (under `streamlit run` that is the streamlit CLI). It reads its
JobSpec as one JSON line on stdin; "stop" on stdin, or stdin closing because the server went away,
sets the threading.Event that train() checks after every batch, so the run ends cleanly and keeps
the best model so far. Progress comes back as JSON lines on stdout; a monitor thread in the
server turns them into a lock-protected snapshot that pages poll. The child saves the checkpoint
itself, as a new file in the user models folder.
"""

from __future__ import annotations

import copy
import datetime as _dt
import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .model import ModelConfig
from .train import PRESETS, Recipe, make_recipe

ACTIVE = ("starting", "running")
MAX_JOBS_ENV_VAR = "LSTMVIZ_MAX_TRAINING_JOBS"


class TrainingBusyError(RuntimeError):
    """Training cannot start now; the message says what is running and how far it is."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a training run needs; plain values so it can cross to the child process."""

    preset: str = "default"
    epochs: int = 1
    hidden_size: int = 128
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

    def recipe(self) -> Recipe:
        return make_recipe(self.preset, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                           seed=self.seed, n_train=self.n_train)

    def config(self) -> ModelConfig:
        return ModelConfig(cell=self.cell, hidden_size=self.hidden_size)

    def validate(self) -> None:
        """Raise ValueError with a clear message for values the app should not accept."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose from {sorted(PRESETS)}")
        r = self.recipe()
        checks = [
            (1 <= r.epochs <= 100, "epochs must be between 1 and 100"),
            (1 <= self.hidden_size <= 1024, "hidden size must be between 1 and 1024"),
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
        return (f"{self.cell.upper()} with {self.hidden_size} hidden units, {r.preset} preset, {r.epochs} epoch"
                f"{'s' if r.epochs != 1 else ''} on {self.n_images():,} images (batch {r.batch_size}, lr {r.lr:g}, seed {r.seed})")

    def file_stem(self) -> str:
        if self.name and self.name.strip():
            return self.name
        when = _dt.datetime.now().strftime("%m%d-%H%M%S")
        return f"{self.cell}-h{self.hidden_size}-{when}"


@dataclass
class JobSnapshot:
    """A copy of a job's progress, safe to read from any thread."""

    job_id: int
    owner: str
    description: str
    state: str = "starting"  # starting, running, finished, stopped, failed
    message: str = "Starting a training process…"
    step: int = 0
    total: int = 0
    steps_per_epoch: int = 1
    epoch: float = 0.0
    loss_history: list[float] = field(default_factory=list)
    eval_history: list[dict] = field(default_factory=list)  # {step, epoch, accuracy}
    eta: float | None = None
    elapsed: float = 0.0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    stop_requested: bool = False
    path: str | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    def progress_text(self) -> str:
        """'step 120 of 469 (26%) · epoch 0.26 · loss 0.812 · about 40 s left'."""
        if self.state == "starting" or not self.step:
            return self.message
        parts = [f"step {self.step:,} of {self.total:,} ({self.fraction:.0%})", f"epoch {self.epoch:.2f}"]
        if self.loss_history:
            parts.append(f"loss {self.loss_history[-1]:.3f}")
        if self.eval_history:
            parts.append(f"accuracy {self.eval_history[-1]['accuracy']:.1%}")
        if self.active and self.eta is not None:
            parts.append(f"about {format_duration(self.eta)} left")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """12 s, 3 min 20 s, 1 h 05 min."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _train_and_save(spec: JobSpec, send, stop: threading.Event) -> None:
    """Load MNIST, train, save a new checkpoint; report every step through `send(kind, payload)`."""
    import torch

    from .data import load_split
    from .evaluate import accuracy
    from .registry import save_new_checkpoint, user_models_dir
    from .train import hold_out, train

    torch.set_num_threads(max(1, spec.threads))
    send("status", "Loading MNIST…")
    train_split, test_split = load_split(True, spec.data_dir), load_split(False, spec.data_dir)
    train_split, eval_split = hold_out(train_split, spec.eval_size)  # the best weights are never chosen on test digits
    recipe, config = spec.recipe(), spec.config()
    send("started", {"total": spec.total_steps(), "steps_per_epoch": spec.steps_per_epoch()})
    result = train(train_split, eval_split, recipe, config, on_progress=lambda p: send("progress", asdict(p)),
                   stop=stop, max_batches=spec.max_batches, evals_per_epoch=spec.live_evals_per_epoch())
    steps = result.metrics["steps"]
    if result.stopped and not result.history:
        send("done", {"state": "stopped", "path": None, "metrics": {},
                      "message": f"Stopped after {steps} batches, before the first evaluation: nothing was saved."})
        return
    model = result.best_model if result.stopped else result.model
    best = max(result.history, key=lambda h: h["test_accuracy"])
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
        eval_accuracy=best["test_accuracy"] if result.stopped else result.history[-1]["test_accuracy"],
        saved=f"best so far (step {best['step']})" if result.stopped else "final",
        history=result.history,
        command="lstmviz app: Train a model",
    )
    path = save_new_checkpoint(spec.models_dir or user_models_dir(), spec.file_stem(), model, metrics)
    if result.stopped:
        message = (f"Stopped after {steps} batches; saved the best model so far (step {best['step']}, "
                   f"test accuracy {metrics['test_accuracy']:.2%}) as {path.name}.")
    else:
        message = f"Finished: test accuracy {metrics['test_accuracy']:.2%}; saved as {path.name}."
    send("done", {"state": "stopped" if result.stopped else "finished", "path": str(path),
                  "metrics": metrics, "message": message})


def child_main() -> None:
    """Entry point of the training process (see the module docstring for the protocol)."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints (e.g. downloads) go to the log
    lock = threading.Lock()

    def send(kind: str, payload) -> None:
        with lock:
            try:
                out.write(json.dumps([kind, payload]) + "\n")
                out.flush()
            except (OSError, ValueError):  # the server is gone: keep going, stdin EOF has asked to stop
                pass

    stop = threading.Event()
    spec = JobSpec(**json.loads(sys.stdin.readline()))

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
        _train_and_save(spec, send, stop)
    except Exception as exc:  # reported to the page; the traceback goes to the server log
        traceback.print_exc()
        send("done", {"state": "failed", "path": None, "metrics": {},
                      "message": f"Training failed: {str(exc).strip() or type(exc).__name__}"})


class TrainingJob:
    """One training run in a child process, with a progress snapshot safe to poll from any thread."""

    _ids = itertools.count(1)

    def __init__(self, spec: JobSpec, owner: str = "") -> None:
        spec.validate()
        self.spec = spec
        self._lock = threading.Lock()
        self._snap = JobSnapshot(next(self._ids), owner, spec.describe(), total=spec.total_steps(),
                                 steps_per_epoch=spec.steps_per_epoch())
        self._t0: float | None = None
        self._process: subprocess.Popen | None = None
        self._done = threading.Event()

    @property
    def job_id(self) -> int:
        return self._snap.job_id

    def start(self) -> "TrainingJob":
        """Launch the training process and the thread that follows its progress."""
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
                   PYTHONUNBUFFERED="1")
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from lstmviz.jobs import child_main; child_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env, cwd=root,
        )
        self._process.stdin.write(json.dumps(asdict(self.spec)) + "\n")
        self._process.stdin.flush()
        threading.Thread(target=self._watch, daemon=True, name=f"lstmviz-train-{self.job_id}").start()
        return self

    def stop(self) -> None:
        """Ask the run to end after the current batch; it then saves the best model so far."""
        with self._lock:
            if not self._snap.active:
                return
            self._snap.stop_requested = True
            self._snap.message = "Stopping after the current batch…"
        try:
            self._process.stdin.write("stop\n")
            self._process.stdin.flush()
        except (OSError, ValueError, AttributeError):  # already gone
            pass

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return copy.deepcopy(self._snap)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is finished, stopped or failed; False on timeout."""
        return self._done.wait(timeout)

    def fail(self, message: str) -> None:
        """Mark the job failed (it could not be started)."""
        with self._lock:
            self._snap.state, self._snap.message, self._snap.finished_at = "failed", message, time.time()
        self._done.set()

    def kill(self) -> None:
        """Terminate the child at once (tests and shutdown); nothing is saved."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def _apply(self, kind: str, payload) -> None:
        s = self._snap
        if kind == "status":
            s.message = payload if not s.stop_requested else s.message
        elif kind == "started":
            s.state, s.total, s.steps_per_epoch = "running", payload["total"], payload["steps_per_epoch"]
            s.message = "Training…" if not s.stop_requested else s.message
            self._t0 = time.monotonic()
        elif kind == "progress":
            s.step, s.epoch = payload["step"], payload["epoch"]
            s.elapsed = time.monotonic() - (self._t0 or time.monotonic())
            s.eta = s.elapsed / s.step * max(0, s.total - s.step) if s.step else None
            if payload["kind"] == "batch":
                s.loss_history.append(payload["loss"])
            else:
                s.eval_history.append({"step": s.step, "epoch": s.epoch, "accuracy": payload["test_accuracy"]})
        elif kind == "done":
            s.state, s.path, s.metrics, s.message = payload["state"], payload["path"], payload["metrics"], payload["message"]
            s.finished_at, s.eta = time.time(), 0.0

    def _watch(self) -> None:
        finished = False
        for line in self._process.stdout:
            try:
                kind, payload = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self._apply(kind, payload)
            finished = kind == "done"
            if finished:
                break
        try:
            self._process.stdin.close()
        except OSError:
            pass
        code = self._process.wait()
        self._process.stdout.close()
        if not finished:
            with self._lock:
                self._snap.state, self._snap.finished_at = "failed", time.time()
                self._snap.message = f"The training process ended unexpectedly (exit code {code}); nothing was saved."
        self._done.set()


class JobRegistry:
    """Process-wide record of training jobs: at most `max_concurrent` run at once, one per owner kept."""

    def __init__(self, max_concurrent: int = 1) -> None:
        self.max_concurrent = max_concurrent
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def job_for(self, owner: str) -> TrainingJob | None:
        """The owner's latest job (running or done), so a page finds it again after a rerun."""
        with self._lock:
            return self._jobs.get(owner)

    def running(self) -> list[TrainingJob]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if j.snapshot().active]

    def busy_message(self, owner: str | None = None) -> str | None:
        """Why `owner` would have to wait now (what runs, for whom, how far), or None."""
        active = self.running()
        return self._busy_text(active, owner) if len(active) >= self.max_concurrent else None

    def start(self, owner: str, spec: JobSpec) -> TrainingJob:
        """Start a job for `owner`; TrainingBusyError if the limit is reached, ValueError for bad values."""
        with self._lock:
            active = [j for j in self._jobs.values() if j.snapshot().active]
            if len(active) >= self.max_concurrent:
                raise TrainingBusyError(self._busy_text(active, owner))
            job = TrainingJob(spec, owner)
            self._jobs[owner] = job
            try:
                return job.start()
            except Exception as exc:
                job.fail(f"Could not start the training process: {exc}")
                raise

    def _busy_text(self, active: list[TrainingJob], owner: str | None) -> str:
        lines = []
        for s in (j.snapshot() for j in active):
            who = "this session" if s.owner == owner else "another session"
            started = _dt.datetime.fromtimestamp(s.started_at).strftime("%H:%M:%S")
            lines.append(f"{s.description}, started at {started} by {who}: {s.progress_text()}")
        limit = "one training run" if self.max_concurrent == 1 else f"{self.max_concurrent} training runs"
        return (f"This app allows {limit} at a time, so please wait until it finishes (or is stopped). "
                f"Running now: " + "; ".join(lines))


def _max_jobs() -> int:
    try:
        return max(1, int(os.environ.get(MAX_JOBS_ENV_VAR, "1")))
    except ValueError:
        return 1


REGISTRY = JobRegistry(_max_jobs())
