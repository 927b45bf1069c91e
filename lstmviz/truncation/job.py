"""The truncation curves computed in the background, for the app: a daemon thread, progress behind a lock.

The thread runs its torch operations on one core (JOB_THREADS): on a server the other core serves the
page's reruns, the progress polls and the browser, and a team of two OpenMP threads would wait at
every step whenever one of its cores is taken (on a loaded 2-core machine that made the work several
times slower). The rest of the process keeps torch's thread count.
No streamlit here (lstmviz.ui.truncation keeps one job per model and test set and polls it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import torch

from ..data import Split
from .cache import Source, cached_truncation
from .compute import Progress
from .result import MODES, TruncationResult

JOB_THREADS = 1  # torch threads of a background computation
T = TypeVar("T")


def set_thread_torch_threads(n: int) -> None:
    """Run this thread's torch operations on n threads, leaving the rest of the process as it was.

    torch.set_num_threads sets the calling thread's OpenMP/MKL thread count and the default that threads
    which have not yet used torch start with; the default is put back from a short-lived helper thread."""
    default = torch.get_num_threads()  # also makes this thread read its setting now, not later from the default
    if n == default:
        return
    torch.set_num_threads(n)
    restore = threading.Thread(target=torch.set_num_threads, args=(default,), name="lstmviz-torch-threads")
    restore.start()
    restore.join()


class BackgroundJob(Generic[T]):
    """work(progress) in a daemon thread on JOB_THREADS torch threads; progress and the result behind a lock.

    status() is (fraction, message, result or None, error or None), so one poller shows any job."""

    def __init__(self, work: Callable[[Progress], T], name: str = "lstmviz-job") -> None:
        self._lock = threading.Lock()
        self.fraction, self.message = 0.0, "starting"
        self.result: T | None = None
        self.error: str | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._work, args=(work,), daemon=True, name=name)
        self._thread.start()

    def _progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = fraction, message

    def _work(self, work: Callable[[Progress], T]) -> None:
        set_thread_torch_threads(JOB_THREADS)
        try:
            result = work(self._progress)
        except Exception as exc:  # noqa: BLE001 -- shown on the page instead of killing the thread silently
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.result, self.fraction, self.message = result, 1.0, "done"

    def status(self) -> tuple[float, str, T | None, str | None]:
        """(fraction, message, result or None, error or None)."""
        with self._lock:
            return self.fraction, self.message, self.result, self.error

    def wait(self, timeout: float | None = None) -> T | None:
        self._thread.join(timeout)
        return self.status()[2]


class TruncationJob(BackgroundJob[TruncationResult]):
    """cached_truncation in the background (no streamlit)."""

    def __init__(self, source: Source, split: Split, modes: Sequence[str] = MODES) -> None:
        modes = tuple(modes)
        super().__init__(
            lambda progress: cached_truncation(source, split, modes, progress=progress), "lstmviz-truncation"
        )
