"""Work in a daemon thread whose progress and result a page polls: no streamlit, everything behind a lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Progress = Callable[[float, str], None]


class BackgroundJob(Generic[T]):
    """Run `work(progress)` in a daemon thread; `progress(fraction, message)` reports how far it is.

    `status()` is (fraction, message, result or None, error or None): the interface the pages poll
    (ui.truncation.poll_jobs). An exception in the work becomes the error text, never a dead thread.
    """

    def __init__(self, work: Callable[[Progress], T], name: str, message: str = "starting") -> None:
        self._lock = threading.Lock()
        self.fraction, self.message = 0.0, message
        self.result: T | None = None
        self.error: str | None = None
        self.started = time.monotonic()  # when the work began (for "time left" estimates)
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True, name=name)
        self._thread.start()

    def _progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = fraction, message

    def error_text(self, exc: Exception) -> str:
        """What the page shows for an exception in the work."""
        return f"{type(exc).__name__}: {exc}"

    def _run(self, work: Callable[[Progress], T]) -> None:
        try:
            result = work(self._progress)
        except Exception as exc:  # noqa: BLE001 - shown on the page instead of killing the thread silently
            with self._lock:
                self.error = self.error_text(exc)
            return
        with self._lock:
            self.result, self.fraction, self.message = result, 1.0, "done"

    def status(self) -> tuple[float, str, T | None, str | None]:
        """(fraction, message, result or None, error or None)."""
        with self._lock:
            return self.fraction, self.message, self.result, self.error

    def wait(self, timeout: float | None = None) -> T | None:
        """Block until the work is done (or `timeout`); its result, or None."""
        self._thread.join(timeout)
        return self.status()[2]
