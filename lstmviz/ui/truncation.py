"""The truncation curves' background computation, shared by every page and session."""

from __future__ import annotations

import streamlit as st

from ..checkpoint import CheckpointInfo, LoadedModel
from ..data import Digits, Split
from ..truncation import TruncationJob, TruncationResult, stored_truncation
from .cache import data_id, freeze, model_id

WAIT_S = 0.3  # seconds between two progress updates while the curves are computed


@st.cache_resource(show_spinner=False, max_entries=16)
def _job(weights: str, data: str, _loaded: LoadedModel, _test: Split) -> TruncationJob:
    return TruncationJob(_loaded, _test)


def truncation_job(loaded: LoadedModel, test: Split) -> TruncationJob:
    """One background computation per model weights and test set (its result is stored on disk)."""
    return _job(model_id(loaded), data_id(test), loaded, test)  # each hashed once, not per rerun


@st.cache_resource(show_spinner=False, max_entries=16)
def _stored(weights: str, data: str, checkpoint: str, _digits: Digits) -> TruncationResult | None:
    found = stored_truncation(weights, checkpoint, _digits, data)
    return None if found is None else freeze(found)


def stored_result(info: CheckpointInfo, digits: Digits) -> TruncationResult | None:
    """A checkpoint's curves on these digits if they are on disk (shipped or cached), read without torch and kept
    for every session; None when they must be computed (`truncation_job`)."""
    return _stored(info.weights, data_id(digits), info.source, digits)


def forget_jobs() -> None:
    """Drop the jobs (e.g. to retry after an error)."""
    _job.clear()


@st.fragment(run_every=1.0)
def poll_jobs(jobs: dict[str, TruncationJob], text: str) -> None:
    """A progress bar per job, `text` before each message; rerun the page once all have finished.

    Only this fragment reruns while the jobs work, once a second, and it only reads their status."""
    status = {label: job.status() for label, job in jobs.items()}  # (fraction, message, result, error)
    if all(s[2] is not None or s[3] is not None for s in status.values()):
        st.rerun()
    for label, (fraction, message, _, _) in status.items():
        st.progress(fraction, text=f"{label}{': ' if label else ''}{text}: {message}")


def truncation_results(
    models: dict[str, LoadedModel], test: Split, titles: dict[str, str], wait: float = 0.5
) -> tuple[dict[str, TruncationResult], dict[str, TruncationJob]]:
    """The truncation curves of several models (keyed alike): (finished results, jobs still working).

    Waits up to `wait` s for each (results already on disk load at once: no progress bar flashes);
    a job that failed shows an error naming the model (titles[key]) and is in neither dict."""
    jobs = {key: truncation_job(m, test) for key, m in models.items()}
    for job in jobs.values():
        job.wait(wait)
    results, pending = {}, {}
    for key, job in jobs.items():
        _, _, result, error = job.status()
        if error is not None:
            st.error(f"The truncation curves of the {titles[key]} could not be computed: {error}")
        elif result is not None:
            results[key] = result
        else:
            pending[key] = job
    return results, pending


def wait_for(job: TruncationJob) -> None:
    """Wait for the job in this run, its progress bar updated in place: a small message every WAIT_S, no rerun
    (a poll that reruns a fragment every second cost the server more CPU than the computation on a loaded
    machine). A click elsewhere still stops the wait at the next update; the job goes on in the background."""
    bar = st.empty()
    while True:
        fraction, message, result, error = job.status()
        if result is not None or error is not None:
            break
        bar.progress(
            fraction, text=f"Computing the curves for this model over the test set (first time only): {message}"
        )
        job.wait(WAIT_S)
    bar.empty()
