"""Shared page helpers: cached data and model, the data-folder option, the sidebar model.

Results of a model on the test set come from `lstmviz.ui.cache.model_result` (one cache helper);
the model's identity is `lstmviz.ui.cache.model_id` (its weights' hash).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ..checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    CheckpointInfo,
    LoadedModel,
    load_checkpoint,
    read_checkpoint_info,
)
from ..data import DataUnavailableError, Digits, Split, load_split, resolve_data_dir, test_digits_or_sample
from . import freeze_imports
from .cache import freeze, model_id

if TYPE_CHECKING:
    from ..trace import Trace

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


@st.cache_resource(show_spinner="Loading MNIST…")
def _test_digits(root: str) -> tuple[Digits, str | None]:
    return test_digits_or_sample(root)  # tried once per server and folder: no download attempt per rerun


@st.cache_resource(show_spinner=False)
def _test_split(root: str) -> tuple[Split, str | None]:
    digits, note = _test_digits(root)
    return digits.split(), note  # the same memory as the Digits


def try_digits() -> tuple[Digits, str | None]:
    """The test split as numpy arrays, else the bundled sample and the calm note about it (shown by the caller):
    what a page that needs no model reads, without torch; `try_split` is the same digits as tensors."""
    return _test_digits(str(resolve_data_dir(data_dir_option())))


def get_digits() -> Digits:
    """`try_digits`, its note shown."""
    digits, note = try_digits()
    if note:
        st.info(note, icon=":material/info:")
    return digits


def get_split(train: bool = False) -> Split:
    """MNIST test split (else the bundled sample, with a calm note), or the train split (a clear
    message and the page stops when it is missing)."""
    root = str(resolve_data_dir(data_dir_option()))
    if not train:
        split, note = _test_split(root)
        if note:
            st.info(note, icon=":material/info:")
        return split
    try:
        return _split(train, root)
    except DataUnavailableError as exc:
        st.error(str(exc))
        st.stop()
        raise


def try_split(train: bool = False) -> tuple[Split | None, str | None]:
    """Like get_split, but shows nothing: (split, None) or, for the test split on the bundled sample,
    (sample, note); for a missing train split (None, message)."""
    root = str(resolve_data_dir(data_dir_option()))
    if not train:
        return _test_split(root)
    try:
        return _split(train, root), None
    except DataUnavailableError as exc:
        return None, str(exc)


@st.cache_resource(show_spinner="Loading model…", max_entries=16)
def _model(path: str, mtime_ns: int, size: int) -> LoadedModel:
    loaded = load_checkpoint(path)
    freeze_imports()  # torch's objects too, the first time
    return loaded


@st.cache_resource(show_spinner=False, max_entries=64)
def _info(path: str, mtime_ns: int, size: int) -> CheckpointInfo:
    return read_checkpoint_info(path)  # a CheckpointError is not cached: the next run reads the file again


def _file_key(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, mtime_ns, size): a cache key that changes when the file does; CheckpointError if missing."""
    p = Path(path)
    try:
        stat = p.stat()
    except OSError:
        raise CheckpointError(f"{p}: checkpoint file not found") from None
    return str(p.resolve()), stat.st_mtime_ns, stat.st_size


def checkpoint_info(path: str | Path) -> CheckpointInfo:
    """A checkpoint file's config, metrics, parameter count and identity, read without torch (cached while the
    file is unchanged); CheckpointError as `load_model_file`."""
    return _info(*_file_key(path))


def load_model_file(path: str | Path) -> LoadedModel:
    """Cached load of a checkpoint file, refreshed when the file changes."""
    return _model(*_file_key(path))


def load_cell_models() -> dict[str, LoadedModel]:
    """The shipped models of the Cell comparison that exist and load, keyed as `comparison.TITLES`
    (lstm, lstm-2layer, gru, rnn); a note for each that does not, with the command that trains it."""
    from ..comparison import find_compared_models, layers_problem

    models, notes = {}, []
    for found in find_compared_models():
        if found.problem is None:
            try:
                loaded = load_model_file(found.path)
                found.problem = layers_problem(found, loaded.config.num_layers)
                if found.problem is None:
                    models[found.key] = loaded
                    continue
            except CheckpointError as exc:
                found.problem = str(exc)
        notes.append(f"**{found.title}** is left out: {found.problem}. Train it with `{found.train_command}`.")
    if notes:
        st.info("\n\n".join(notes), icon=":material/info:")
    return models


def selected_checkpoint() -> str:
    """Path of the model chosen in the sidebar (the shipped default until one is chosen)."""
    return st.session_state.get(MODEL_KEY) or str(DEFAULT_CHECKPOINT)


def current_model() -> LoadedModel:
    """The selected model; shows a clear error and stops the page if it cannot be loaded."""
    return _or_stop(load_model_file)


def current_info() -> CheckpointInfo:
    """The selected model's config, metrics, parameter count and identity, read from its file without torch
    (what a page needs that shows no computation); a clear error and the page stops, as `current_model`."""
    return _or_stop(checkpoint_info)


def _or_stop(read):
    try:
        return read(selected_checkpoint())
    except CheckpointError as exc:
        st.error(f"The selected model could not be loaded. {exc}")
        st.stop()
        raise


@st.cache_resource(show_spinner=False, max_entries=512)
def _trace(model: str, image_bytes: bytes, shape: tuple[int, ...], _loaded: LoadedModel) -> Trace:
    from ..trace import trace_image

    image = np.frombuffer(image_bytes, dtype=np.float32).reshape(shape).copy()
    return freeze(trace_image(_loaded.model, image))


def cached_trace(loaded: LoadedModel, image: np.ndarray) -> Trace:
    """The per-step trace of one image (28, 28), cached per model_id and image bytes (read-only arrays)."""
    img = np.ascontiguousarray(image, dtype=np.float32)
    return _trace(model_id(loaded), img.tobytes(), img.shape, loaded)


def ensure_navigation() -> None:
    """Run the page through app.py's navigation, even on a fresh server's first deep link.

    Streamlit runs a page file on its own (old multipage mode, no sidebar model selector)
    when the very first request after start is a link to it, because a `pages/` folder
    sits beside app.py. Switch that mode off and rerun, so app.py builds the navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
