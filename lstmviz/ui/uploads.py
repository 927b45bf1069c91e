"""A sidebar upload scored in the background: the file is checked at once, its test accuracy is measured
in a thread (registry.UploadJob), and the model is selected when it is saved."""

from __future__ import annotations

import streamlit as st

from ..data import Split
from ..registry import UploadJob
from .common import MODEL_KEY
from .models import escape_markdown
from .truncation import poll_jobs

JOB_KEY = "sidebar_upload_job"


def start(name: str, data: bytes, test: Split | None) -> None:
    """Check the file now (CheckpointError if it is refused), score and save it in the background."""
    st.session_state[JOB_KEY] = (UploadJob(name, data, test), escape_markdown(name, 80))


def finish(message_key: str) -> None:
    """Before the selector is drawn: a finished upload is selected (or its error shown), once."""
    held = st.session_state.get(JOB_KEY)
    if held is None:
        return
    job, name = held
    _, _, path, error = job.status()
    if path is None and error is None:
        return
    del st.session_state[JOB_KEY]
    if error is not None:
        st.session_state[message_key] = ("error", f"Rejected {name}: {escape_markdown(error, 400)}")
        return
    st.session_state[MODEL_KEY] = str(path)
    st.session_state[message_key] = ("success", f"Added and selected {escape_markdown(path.stem)}.")


def progress() -> bool:
    """While an upload is scored: its progress, polled by a fragment (the page reruns once it is saved)."""
    held = st.session_state.get(JOB_KEY)
    if held is None:
        return False
    job, name = held
    poll_jobs({"": job}, f"Measuring the test accuracy of {name}")
    return True
