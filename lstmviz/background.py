"""Work in a daemon thread whose progress and result a page polls: no streamlit, everything behind a lock.

Every such thread (a BackgroundJob's, the warm-up's) is started by `start_daemon`, which registers it to
be stopped and joined when the process exits (`stop_all`, an atexit hook). Why: CPython (3.11-3.13)
ends a daemon thread that is still running during interpreter finalization by calling pthread_exit the
moment it asks for the GIL back. A thread that is inside a torch operation at that point (torch releases
the GIL around its kernels) unwinds through C++ frames that may not unwind (pybind11's
`gil_scoped_release` destructor is noexcept), and the whole process dies with "terminate called without
an active exception" (SIGABRT, exit status 134) after everything else has finished. So at exit the
threads are asked to stop at their next stop point (`check_stop`: a job's progress report, a warm-up
step) and waited for, for at most EXIT_WAIT seconds in all.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Progress = Callable[[float, str], None]

EXIT_WAIT = 20.0  # seconds the process waits in all, at exit, for its background threads to stop

_log = logging.getLogger(__name__)
_exiting = threading.Event()
_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # a finished thread drops out by itself
_threads_lock = threading.Lock()


class Stopped(Exception):
    """Raised at a stop point of a background thread once the process is exiting."""


def exiting(timeout: float = 0.0) -> bool:
    """Whether the process is exiting (its background threads should stop); waits up to `timeout` s for it."""
    return _exiting.wait(timeout) if timeout > 0 else _exiting.is_set()


def check_stop() -> None:
    """A stop point: raise Stopped if the process is exiting, so background work ends before the interpreter does."""
    if _exiting.is_set():
        raise Stopped("the process is exiting")


def start_daemon(target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
    """Start `target(*args)` in a daemon thread that the process stops (`check_stop`) and joins at exit."""
    thread = threading.Thread(target=target, args=args, daemon=True, name=name)
    with _threads_lock:
        _threads.add(thread)
    thread.start()
    return thread


def stop_all(timeout: float = EXIT_WAIT) -> list[threading.Thread]:
    """Ask every thread of `start_daemon` to stop and wait for them, up to `timeout` s in all; those still running.

    Registered with atexit (which runs before the interpreter finalizes, while threads still run normally).
    Afterwards new work stops at its first stop point: call it only when the process is exiting."""
    _exiting.set()
    deadline = time.monotonic() + timeout
    with _threads_lock:
        threads = [t for t in _threads if t.is_alive() and t is not threading.current_thread()]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [t for t in threads if t.is_alive()]
    if left:
        _log.warning("background threads still running at exit: %s", ", ".join(t.name for t in left))
    return left


atexit.register(stop_all)


class BackgroundJob(Generic[T]):
    """Run `work(progress)` in a daemon thread; `progress(fraction, message)` reports how far it is.

    `status()` is (fraction, message, result or None, error or None): the interface the pages poll
    (ui.truncation.poll_jobs). An exception in the work becomes the error text, never a dead thread.
    Each progress report is a stop point: once the process is exiting it raises Stopped, which ends the work.
    """

    def __init__(self, work: Callable[[Progress], T], name: str, message: str = "starting") -> None:
        self._lock = threading.Lock()
        self.fraction, self.message = 0.0, message
        self.result: T | None = None
        self.error: str | None = None
        self.started = time.monotonic()  # when the work began (for "time left" estimates)
        self._thread = start_daemon(self._run, name, work)

    def _progress(self, fraction: float, message: str) -> None:
        check_stop()
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
