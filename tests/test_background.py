"""Background threads at process exit (lstmviz/background.py): stopped and joined, never left inside torch.

A daemon thread still running a torch operation when the interpreter finalizes aborts the process
("terminate called without an active exception", exit status 134) after every test has passed. Each
check runs a short Python process that exits while such work runs, a few times (the abort depends on
timing), and wants exit status 0 with no background thread left.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3

# Registered before lstmviz.background is imported: atexit runs it after background.stop_all.
LEFT_AT_EXIT = """
import atexit, threading
atexit.register(lambda: print("left:", sorted(t.name for t in threading.enumerate() if t.name.startswith("lstmviz"))))
"""


def _exit_while_working(code: str, env: dict[str, str] | None = None) -> None:
    script = textwrap.dedent(LEFT_AT_EXIT) + textwrap.dedent(code)
    for run in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=dict(os.environ, OMP_NUM_THREADS="1", **(env or {})),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "terminate called" not in out.stderr, f"run {run}: {out.stderr[-2000:]}"
        assert out.returncode == 0, f"run {run}: exit status {out.returncode}\n{out.stderr[-2000:]}"
        assert "left: []" in out.stdout, f"run {run}: {out.stdout}"


def test_a_job_inside_torch_is_stopped_at_exit():
    _exit_while_working(
        """
        import time
        import torch
        from lstmviz.background import BackgroundJob

        def work(progress):
            a = torch.randn(300, 300)
            for i in range(10**9):
                a = (a @ a).tanh() + 1  # torch releases the GIL in here
                progress(0.0, f"step {i}")

        job = BackgroundJob(work, "lstmviz-test-job")
        while job.status()[1] == "starting":
            time.sleep(0.01)
        """
    )


def test_the_warm_up_is_stopped_at_exit(data_dir, tmp_path):
    """The warm-up thread of a server (the truncation curves, then traces and states) when the server exits."""
    _exit_while_working(
        """
        import time
        from lstmviz.checkpoint import DEFAULT_CHECKPOINT
        from lstmviz.ui import warmup

        warmup.DELAY = 0.0
        thread, done = warmup._start(str(DEFAULT_CHECKPOINT))
        while not done and thread.is_alive():  # the first step is done: the truncation curves are computed
            time.sleep(0.05)
        time.sleep(0.5)
        """,
        {"LSTMVIZ_CACHE_DIR": str(tmp_path), "LSTMVIZ_DATA_DIR": str(data_dir)},
    )


def test_progress_is_a_stop_point():
    """stop_all (the exit hook): a job's next progress report ends its work with an error, not a result, and the
    thread is joined. In a child process: the stop flag is the whole process's."""
    code = """
        import threading

        from lstmviz.background import BackgroundJob, Stopped, check_stop, exiting, stop_all

        reports, running = [], threading.Event()

        def work(progress):
            for i in range(10**9):
                progress(0.0, f"report {i}")
                reports.append(i)
                running.set()

        check_stop()  # not exiting yet: no error
        job = BackgroundJob(work, "lstmviz-test-stop")
        assert running.wait(30)
        assert stop_all(30) == [] and exiting()
        assert not job._thread.is_alive()
        _, message, result, error = job.status()
        assert result is None and error == "Stopped: the process is exiting", (result, error)
        assert message == f"report {reports[-1]}"  # the report that raised changed nothing
        try:
            check_stop()
        except Stopped:
            print("stopped")
        """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "stopped", out.stderr[-2000:]
