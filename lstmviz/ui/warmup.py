"""Warm-up: once per server process, after the first page has been drawn, a background thread loads what
the other pages need first, so a visitor's second page is as quick as a return visit.

It fills the same `st.cache_resource` caches the pages use (the test set or the bundled sample, the selected
model, its identity, its truncation curves, the trace of test digit 0, the Neuron explorer's states of
its default sample) and imports the pages' heavier modules. It draws nothing: in a thread with no script
run, Streamlit's spinners do nothing, and its "missing ScriptRunContext" warnings are dropped for this
thread only. Each step that fails is noted in the server's log (INFO) and skipped: the pages then compute
as usual. Not under AppTest (each test
clears the caches; a thread filling them meanwhile would make tests depend on timing), nor with
$LSTMVIZ_WARMUP=0. The thread is a `background.start_daemon` one: when the process exits, it stops
before its next step and is waited for (a daemon thread still inside torch at exit aborts the process).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time

import streamlit as st
from streamlit import config as st_config

from ..background import check_stop, exiting, start_daemon

THREAD_NAME = "lstmviz-warm-up"
DELAY = 3.0  # seconds: the browser draws the first page (2-3 s of work on 2 cores) before the warm-up runs
MODULES = (  # imported by the pages on first visit (torch comes in with the model, loaded before these)
    "lstmviz.ui.inspector",
    "lstmviz.ui.stepthrough",
    "lstmviz.ui.attribution",
    "lstmviz.ui.export",
    "lstmviz.memory",
    "lstmviz.figures.neurons",
    "lstmviz.figures.statespace",
    "lstmviz.figures.cells",
    "lstmviz.figures.inspector",
)
_log = logging.getLogger(__name__)


class _NotThisThread(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME


def _warm(checkpoint: str, done: list[str]) -> None:
    """Each step on its own: one that fails (a model the trace does not support, say) is noted and the next runs."""
    from .cache import data_id, model_id, model_result
    from .common import cached_trace, load_model_file, try_split
    from .neurons import DEFAULT_SIZE
    from .truncation import truncation_job

    def step(name: str, work) -> None:
        check_stop()  # the process is exiting: no further step (Stopped ends the warm-up)
        t0 = time.perf_counter()
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a warm-up never breaks the app; the page computes as usual
            done.append(f"{name} failed ({type(exc).__name__}: {exc})")
            return
        done.append(f"{name} {time.perf_counter() - t0:.2f}s")

    test, _ = try_split(train=False)  # the test set, else the bundled sample
    loaded = load_model_file(checkpoint)
    step("ids", lambda: (model_id(loaded), data_id(test)))
    step("truncation", lambda: truncation_job(loaded, test).wait(60))
    step("trace", lambda: cached_trace(loaded, test.images[0].numpy()))
    step("states", lambda: model_result("states", loaded, test, DEFAULT_SIZE))
    for name in MODULES:
        step(name, lambda name=name: importlib.import_module(name))


def _run(checkpoint: str, done: list[str], delay: float = 0.0) -> None:
    if exiting(delay):  # the process exits before the warm-up has begun
        return
    try:
        _warm(checkpoint, done)
    except Exception as exc:  # noqa: BLE001 - no data or no model: the pages say so themselves
        done.append(f"stopped ({type(exc).__name__}: {exc})")
    _log.info("warm-up: %s", ", ".join(done))


@st.cache_resource(show_spinner=False)
def _start(_checkpoint: str) -> tuple[threading.Thread, list[str]]:  # no hashed argument: once per process
    quiet = _NotThisThread()
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching.cache_utils"):
        logging.getLogger(name).addFilter(quiet)
    done: list[str] = []
    return start_daemon(_run, THREAD_NAME, _checkpoint, done, DELAY), done


def enabled() -> bool:
    """Whether warm_up starts the thread: not under AppTest, not with $LSTMVIZ_WARMUP=0.

    AppTest marks its runs by patching `streamlit.config.get_option` (global.appTest is True only there, during
    a run); `st.get_option` is another reference to the unpatched function and always says False."""
    return not st_config.get_option("global.appTest") and os.environ.get("LSTMVIZ_WARMUP", "1") != "0"


def warm_up() -> threading.Thread | None:
    """Start the warm-up for the selected model, once per server process (later calls return the same
    thread); None when it is off (AppTest, $LSTMVIZ_WARMUP=0). Call it after the page has been drawn."""
    from .common import selected_checkpoint

    return _start(selected_checkpoint())[0] if enabled() else None
