"""The server's side of training runs: TrainingJob follows one child process and keeps a
lock-protected snapshot that pages poll; JobRegistry lets at most a few run at once.

A checkpoint that cannot be saved (full or read-only disk, folder over its cap) comes back to the
server, which keeps it in memory for a download or another try; a run whose session has gone is
stopped after a timeout (LSTMVIZ_ABANDONED_RUN_SECONDS) and finished runs are forgotten after an hour.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import itertools
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .journal import find_saved, journal_path, write_journal
from .protocol import ask_to_stop, launch, read_messages
from .spec import JobSpec, format_duration

ACTIVE = ("starting", "running")
MAX_JOBS_ENV_VAR = "LSTMVIZ_MAX_TRAINING_JOBS"
ABANDON_ENV_VAR = "LSTMVIZ_ABANDONED_RUN_SECONDS"  # a run whose session is gone this long is stopped
KEEP_FINISHED_SECONDS = 3600.0  # finished runs are forgotten after this long (their files stay)


class TrainingBusyError(RuntimeError):
    """Training cannot start now; the message says what is running and how far it is."""


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
        from ..registry import user_models_dir

        return Path(self.spec.models_dir) if self.spec.models_dir else user_models_dir()

    def start(self) -> TrainingJob:
        """Launch the training process and the thread that follows its progress."""
        self._process = launch(
            self.spec,
            started=lambda pid: write_journal(
                self._models_dir(),
                self.run_id,
                state="running",
                pid=pid,
                description=self.spec.describe(),
                started_at=self._snap.started_at,
            ),
        )
        threading.Thread(target=self._watch, daemon=True, name=f"lstmviz-train-{self.job_id}").start()
        return self

    def stop(self, reason: str = "Stopping after the current batch…") -> None:
        """Ask the run to end after the current batch; it then saves the best model so far."""
        with self._lock:
            if not self._snap.active:
                return
            self._snap.stop_requested = True
            self._snap.message = reason
        ask_to_stop(self._process)

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
        from ..registry import SUFFIX, safe_stem

        with self._lock:
            held = self._unsaved
        return (safe_stem(held[0]) + SUFFIX, held[1]) if held else None

    def retry_save(self) -> Path:
        """Save the model held in memory as a new file; raises CheckpointError (FolderError) if it still cannot."""
        from ..registry import SUFFIX, write_new_file

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
                s.eval_history.append({"step": s.step, "epoch": s.epoch, "accuracy": payload["heldout_accuracy"]})
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
        for kind, payload in read_messages(self._process):
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
