"""Shared page helpers: cached data and model, the data-folder option, the sidebar model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

from ..checkpoint import DEFAULT_CHECKPOINT, CheckpointError, LoadedModel, load_checkpoint
from ..data import DataUnavailableError, Split, load_split, resolve_data_dir

MODEL_KEY = "model_path"


def data_dir_option() -> str | None:
    """`streamlit run app.py -- --data-dir DIR` (else $LSTMVIZ_DATA_DIR, else ./data)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.data_dir


@st.cache_resource(show_spinner="Loading MNIST…")
def _split(train: bool, root: str) -> Split:
    return load_split(train, root)


def get_split(train: bool = False) -> Split:
    """MNIST test (or train) split; shows the clear message and stops the page if missing."""
    root = str(resolve_data_dir(data_dir_option()))
    try:
        return _split(train, root)
    except DataUnavailableError as exc:
        st.error(str(exc))
        st.stop()
        raise


def try_split(train: bool = False) -> tuple[Split | None, str | None]:
    """Like get_split, but returns (None, message) instead of stopping the page."""
    root = str(resolve_data_dir(data_dir_option()))
    try:
        return _split(train, root), None
    except DataUnavailableError as exc:
        return None, str(exc)


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _model(path: str, mtime_ns: int, size: int) -> LoadedModel:
    return load_checkpoint(path)


def load_model_file(path: str | Path) -> LoadedModel:
    """Cached load of a checkpoint file, refreshed when the file changes."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        raise CheckpointError(f"{p}: checkpoint file not found") from None
    return _model(str(p.resolve()), stat.st_mtime_ns, stat.st_size)


def selected_checkpoint() -> str:
    """Path of the model chosen in the sidebar (the shipped default until one is chosen)."""
    return st.session_state.get(MODEL_KEY) or str(DEFAULT_CHECKPOINT)


def current_model() -> LoadedModel:
    """The selected model; shows a clear error and stops the page if it cannot be loaded."""
    try:
        return load_model_file(selected_checkpoint())
    except CheckpointError as exc:
        st.error(f"The selected model could not be loaded. {exc}")
        st.stop()
        raise
