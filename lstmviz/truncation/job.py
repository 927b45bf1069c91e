"""The truncation curves computed in the background, for the app: a daemon thread, progress behind a lock.

No streamlit here (lstmviz.ui.truncation keeps one job per model and test set and polls it).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..data import Split
from .cache import Source, cached_truncation
from .result import MODES, TruncationResult


class TruncationJob:
    """cached_truncation in a daemon thread; progress and the result behind a lock (no streamlit)."""

    def __init__(self, source: Source, split: Split, modes: Sequence[str] = MODES) -> None:
        self._lock = threading.Lock()
        self.fraction, self.message = 0.0, "starting"
        self.result: TruncationResult | None = None
        self.error: str | None = None
        self._thread = threading.Thread(
            target=self._work, args=(source, split, tuple(modes)), daemon=True, name="lstmviz-truncation"
        )
        self._thread.start()

    def _progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = fraction, message

    def _work(self, source: Source, split: Split, modes: tuple[str, ...]) -> None:
        try:
            result = cached_truncation(source, split, modes, progress=self._progress)
        except Exception as exc:  # shown on the page instead of killing the thread silently
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self.result, self.fraction, self.message = result, 1.0, "done"

    def status(self) -> tuple[float, str, TruncationResult | None, str | None]:
        """(fraction, message, result or None, error or None)."""
        with self._lock:
            return self.fraction, self.message, self.result, self.error

    def wait(self, timeout: float | None = None) -> TruncationResult | None:
        self._thread.join(timeout)
        return self.status()[2]
