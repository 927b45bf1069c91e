"""The truncation curves computed in the background, for the app: a daemon thread, progress behind a lock.

(`truncation_curves` shares the batches out to worker threads of one torch thread each.)
No streamlit here (lstmviz.ui.truncation keeps one job per model and test set and polls it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from ..data import Split
from .cache import Source, cached_truncation
from .compute import Progress
from .result import MODES, TruncationResult

T = TypeVar("T")


class BackgroundJob(Generic[T]):
    """work(progress) in a daemon thread; progress and the result behind a lock.

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
