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

A run the server cannot lose track of: each run writes a small journal (`.training-<run id>.json`)
in the user models folder, which the child updates when it ends, so that after a server restart
the Train page can say what happened and which model was kept; a checkpoint that cannot be saved
(full or read-only disk, folder over its cap) comes back to the server, which keeps it in memory
for a download or another try; a run whose session has gone is stopped after a timeout
(LSTMVIZ_ABANDONED_RUN_SECONDS) and finished runs are forgotten after an hour.
"""

from __future__ import annotations

import base64
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
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .model import ModelConfig
from .train import PRESETS, Recipe, make_recipe

ACTIVE = ("starting", "running")
MAX_JOBS_ENV_VAR = "LSTMVIZ_MAX_TRAINING_JOBS"
ABANDON_ENV_VAR = "LSTMVIZ_ABANDONED_RUN_SECONDS"  # a run whose session is gone this long is stopped
KEEP_FINISHED_SECONDS = 3600.0  # finished runs are forgotten after this long (their files stay)
JOURNAL_GLOB = ".training-*.json"


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
        return (
            f"{self.cell.upper()} with {self.hidden_size} hidden units, {r.preset} preset, {r.epochs} epoch"
            f"{'s' if r.epochs != 1 else ''} on {self.n_images():,} images (batch {r.batch_size}, lr {r.lr:g}, seed {r.seed})"
        )

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
    unsaved: bool = False  # trained but not saved (full or read-only folder): the weights are held in memory

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


def training_data_missing(data_dir: str | os.PathLike | None) -> str | None:
    """The clear message when the MNIST training files are not on disk (None when they are)."""
    from .data import RAW_FILES, missing_message, resolve_data_dir

    root = resolve_data_dir(data_dir)
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for name in RAW_FILES):
        return None
    return missing_message(root, "the training set is needed to train")


_CALIBRATION: dict[tuple, float] = {}


def seconds_per_image(cell: str, hidden_size: int) -> float:
    """Measured once per (cell, hidden size): seconds of one-thread training per image, batch of 64."""
    key = (cell, hidden_size)
    if key not in _CALIBRATION:
        import torch

        from .model import ModelConfig, build_model

        model = build_model(ModelConfig(cell=cell, hidden_size=hidden_size), seed=0)
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
    per_image = seconds_per_image(spec.cell, spec.hidden_size)
    train_images = spec.total_steps() * spec.recipe().batch_size
    evals = spec.live_evals_per_epoch() * spec.recipe().epochs * spec.eval_size + 10_000
    overhead = 1.3 if spec.recipe().augment else 1.1  # augmentation, data loading
    return per_image * (train_images * overhead + evals / 3) + 5.0  # forward only is about a third; start-up


def journal_path(models_dir: str | os.PathLike, run_id: str) -> Path:
    """The small JSON file that records one run, hidden in the user models folder."""
    return Path(models_dir) / f".training-{run_id}.json"


def _write_journal(models_dir: str | os.PathLike, run_id: str, **fields) -> None:
    """Create or update a run's journal; a folder that cannot be written is not an error here."""
    from .checkpoint import atomic_write_bytes

    path = journal_path(models_dir, run_id)
    try:
        record = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        record = {}
    record.update(fields, run_id=run_id, updated_at=time.time())
    try:
        atomic_write_bytes(path, json.dumps(record).encode())
    except OSError:
        pass


def find_saved(models_dir: str | os.PathLike, run_id: str) -> Path | None:
    """The checkpoint a run saved, found by the run id in its metrics (headers only), or None."""
    from .registry import list_models

    if not run_id:
        return None
    for info in list_models(user_dir=models_dir):
        if info.valid and info.kind != "shipped" and info.metrics.get("run_id") == run_id:
            return info.path
    return None


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True)
class PastRun:
    """A run this server process did not start (it ran before a restart): what it left."""

    run_id: str
    text: str
    path: str | None
    finishing: bool  # its training process still runs (it ends by saving the best model so far)


def past_runs(models_dir: str | os.PathLike, known: set[str] = frozenset()) -> list[PastRun]:
    """Runs recorded in the folder's journals that this process does not know: interrupted by a restart."""
    out = []
    for path in sorted(Path(models_dir).glob(JOURNAL_GLOB)):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        run_id = rec.get("run_id") if isinstance(rec, dict) else None
        if not isinstance(run_id, str) or run_id in known:
            continue
        desc = str(rec.get("description") or "a training run")[:200]
        started = rec.get("started_at")
        when = _dt.datetime.fromtimestamp(started).strftime("%d %b %H:%M") if isinstance(started, (int, float)) else "?"
        head = f"The server restarted while a training run was in progress ({desc}, started {when})."
        state = rec.get("state")
        saved = find_saved(models_dir, run_id)
        finishing = state == "running" and _pid_alive(rec.get("pid"))
        if finishing:
            text = (
                f"{head} Its training process is still finishing: it stops and saves the best model so far "
                "in the models list. Nothing else changed."
            )
        elif saved is not None:
            text = f"{head} It saved {saved.name}, which is in the models list. Every other model is unchanged."
        elif state == "unsaved":
            text = f"{head} It trained, but could not save its model ({rec.get('message', '')}); nothing was kept."
        else:
            text = f"{head} It ended before saving anything; every model in the list is unchanged."
        out.append(PastRun(run_id, text, str(saved) if saved else None, finishing))
    return out


def dismiss_past_run(models_dir: str | os.PathLike, run_id: str) -> None:
    """Forget a past run's journal (its checkpoint, if any, stays)."""
    journal_path(models_dir, run_id).unlink(missing_ok=True)


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
    from .checkpoint import CheckpointError, checkpoint_bytes

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
            _write_journal(
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
        _train_and_save(spec, send, stop)
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


class TrainingJob:
    """One training run in a child process, with a progress snapshot safe to poll from any thread.

    `alive`: a check that the owner's session still exists (the page passes Streamlit's); a run
    whose owner has been gone for `abandon_after` seconds is stopped (it then saves the best so far).
    """

    _ids = itertools.count(1)

    def __init__(
        self,
        spec: JobSpec,
        owner: str = "",
        alive: Callable[[], bool] | None = None,
        abandon_after: float | None = None,
    ) -> None:
        spec.validate()
        if not spec.run_id:
            spec = replace(spec, run_id=uuid.uuid4().hex)
        self.spec = spec
        self._lock = threading.Lock()
        self._snap = JobSnapshot(
            next(self._ids), owner, spec.describe(), total=spec.total_steps(), steps_per_epoch=spec.steps_per_epoch()
        )
        self._t0: float | None = None
        self._process: subprocess.Popen | None = None
        self._done = threading.Event()
        self._unsaved: tuple[str, bytes] | None = None  # (file stem, safetensors bytes) when the save failed
        self._alive = alive
        self._abandon_after = _abandon_seconds() if abandon_after is None else abandon_after
        self._gone_since: float | None = None
        self._last_check = 0.0
        self._abandoned = False

    @property
    def job_id(self) -> int:
        return self._snap.job_id

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    def _models_dir(self) -> Path:
        from .registry import user_models_dir

        return Path(self.spec.models_dir) if self.spec.models_dir else user_models_dir()

    def start(self) -> TrainingJob:
        """Launch the training process and the thread that follows its progress."""
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
            PYTHONUNBUFFERED="1",
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from lstmviz.jobs import child_main; child_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=root,
        )
        _write_journal(
            self._models_dir(),
            self.run_id,
            state="running",
            pid=self._process.pid,
            description=self.spec.describe(),
            started_at=self._snap.started_at,
        )
        self._process.stdin.write(json.dumps(asdict(self.spec)) + "\n")
        self._process.stdin.flush()
        threading.Thread(target=self._watch, daemon=True, name=f"lstmviz-train-{self.job_id}").start()
        return self

    def stop(self, reason: str = "Stopping after the current batch…") -> None:
        """Ask the run to end after the current batch; it then saves the best model so far."""
        with self._lock:
            if not self._snap.active:
                return
            self._snap.stop_requested = True
            self._snap.message = reason
        try:
            self._process.stdin.write("stop\n")
            self._process.stdin.flush()
        except (OSError, ValueError, AttributeError):  # already gone
            pass

    def snapshot(self) -> JobSnapshot:
        """A copy of the progress (lists copied, not deep-copied: a refresh stays cheap)."""
        with self._lock:
            snap = copy.copy(self._snap)
            snap.loss_history = list(snap.loss_history)
            snap.eval_history = list(snap.eval_history)
            return snap

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

    def unsaved_checkpoint(self) -> tuple[str, bytes] | None:
        """(file name, safetensors bytes) of a trained model that could not be saved, else None."""
        from .registry import SUFFIX, safe_stem

        with self._lock:
            held = self._unsaved
        return (safe_stem(held[0]) + SUFFIX, held[1]) if held else None

    def retry_save(self) -> Path:
        """Save the model held in memory as a new file; raises CheckpointError (FolderError) if it still cannot."""
        from .registry import SUFFIX, write_new_file

        with self._lock:
            held = self._unsaved
        if held is None:
            raise ValueError("there is no unsaved model to save")
        path = write_new_file(self._models_dir(), held[0], SUFFIX, held[1])
        with self._lock:
            self._unsaved = None
            s = self._snap
            s.unsaved, s.path, s.state = False, str(path), "finished"
            s.message = f"Saved as {path.name} (test accuracy {s.metrics.get('test_accuracy', 0):.2%})."
        return path

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
        elif kind == "saved":
            s.path = payload["path"]
        elif kind == "done":
            s.state, s.path, s.metrics, s.message = (
                payload["state"],
                payload["path"],
                payload["metrics"],
                payload["message"],
            )
            s.finished_at, s.eta = time.time(), 0.0
            if self._abandoned:
                s.message = "The session that started this run had gone, so the run was stopped. " + s.message
            if payload.get("checkpoint"):
                self._unsaved = (str(payload.get("stem") or "model"), base64.b64decode(payload["checkpoint"]))
                s.unsaved = True

    def _check_owner(self) -> None:
        """Stop the run when its owner's session has been gone for `abandon_after` seconds."""
        now = time.monotonic()
        if self._alive is None or now - self._last_check < 1.0:
            return
        self._last_check = now
        try:
            alive = bool(self._alive())
        except Exception:  # noqa: BLE001 - a broken check must not end a run
            alive = True
        if alive:
            self._gone_since = None
        elif self._gone_since is None:
            self._gone_since = now
        elif now - self._gone_since >= self._abandon_after and not self._abandoned:
            self._abandoned = True
            self.stop(
                f"Stopping: the session that started this run has been gone for "
                f"{format_duration(self._abandon_after)}; the best model so far is kept."
            )

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
            self._check_owner()
        try:
            self._process.stdin.close()
        except OSError:
            pass
        code = self._process.wait()
        self._process.stdout.close()
        if not finished:
            with self._lock:
                saved = self._snap.path or find_saved(self._models_dir(), self.run_id)
            with self._lock:
                s = self._snap
                s.finished_at = time.time()
                if saved:
                    s.state, s.path = "stopped", str(saved)
                    s.message = (
                        f"The training process ended unexpectedly (exit code {code}) just after saving: "
                        f"{Path(saved).name} is on disk and loads."
                    )
                else:
                    s.state = "failed"
                    s.message = (
                        f"The training process ended unexpectedly (exit code {code}); nothing was saved, "
                        "and every model in the list is unchanged."
                    )
        try:
            journal_path(self._models_dir(), self.run_id).unlink(missing_ok=True)  # this server saw the end
        except OSError:
            pass
        self._done.set()


class JobRegistry:
    """Process-wide record of training jobs: at most `max_concurrent` run at once, one per owner kept.

    Finished jobs are forgotten `keep_finished` seconds after they end (their checkpoints stay).
    """

    def __init__(self, max_concurrent: int = 1, keep_finished: float = KEEP_FINISHED_SECONDS) -> None:
        self.max_concurrent = max_concurrent
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}

    def _prune(self) -> None:
        """Drop finished jobs older than keep_finished (called with the lock held)."""
        cutoff = time.time() - self.keep_finished
        for owner, job in list(self._jobs.items()):
            snap = job.snapshot()
            if not snap.active and snap.finished_at is not None and snap.finished_at < cutoff:
                del self._jobs[owner]

    def job_for(self, owner: str) -> TrainingJob | None:
        """The owner's latest job (running or done), so a page finds it again after a rerun."""
        with self._lock:
            self._prune()
            return self._jobs.get(owner)

    def jobs(self) -> list[TrainingJob]:
        with self._lock:
            self._prune()
            return list(self._jobs.values())

    def run_ids(self) -> set[str]:
        """Run ids of every job this process started and still remembers."""
        return {j.run_id for j in self.jobs()}

    def running(self) -> list[TrainingJob]:
        with self._lock:
            jobs = list(self._jobs.values())
        return [j for j in jobs if j.snapshot().active]

    def busy_message(self, owner: str | None = None) -> str | None:
        """Why `owner` would have to wait now (what runs, for whom, how far), or None."""
        active = self.running()
        return self._busy_text(active, owner) if len(active) >= self.max_concurrent else None

    def start(
        self, owner: str, spec: JobSpec, alive: Callable[[], bool] | None = None, abandon_after: float | None = None
    ) -> TrainingJob:
        """Start a job for `owner`; TrainingBusyError if the limit is reached, ValueError for bad values."""
        with self._lock:
            self._prune()
            active = [j for j in self._jobs.values() if j.snapshot().active]
            if len(active) >= self.max_concurrent:
                raise TrainingBusyError(self._busy_text(active, owner))
            job = TrainingJob(spec, owner, alive=alive, abandon_after=abandon_after)
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
        return (
            f"This app allows {limit} at a time, so please wait until it finishes (or is stopped). "
            f"Running now: " + "; ".join(lines)
        )


def _abandon_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get(ABANDON_ENV_VAR, "120")))
    except ValueError:
        return 120.0


def _max_jobs() -> int:
    try:
        return max(1, int(os.environ.get(MAX_JOBS_ENV_VAR, "1")))
    except ValueError:
        return 1


REGISTRY = JobRegistry(_max_jobs())
