"""The sidebar model selector used by every page: choose, download and upload checkpoints.

Everything shown here that comes from a file (its name, recipe, error) is plain text; a bad upload
gets a one-line message and the sidebar keeps working, whatever the file holds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from ..checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError
from ..registry import clean_partial_files, list_models, user_models_dir
from . import uploads
from .common import MODEL_KEY, try_split
from .links import hidden
from .models import escape_markdown

UPLOAD_KEY = "sidebar_upload"
UPLOAD_MESSAGE_KEY = "sidebar_upload_message"
MAX_UPLOAD_MB = MAX_CHECKPOINT_BYTES // 2**20
_log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def _startup() -> list[str]:
    """Once per server process: remove partial files left in the user models folder by interrupted saves."""
    removed = clean_partial_files(user_models_dir())
    if removed:
        _log.warning(
            "removed %d partial files left by interrupted saves: %s", len(removed), ", ".join(p.name for p in removed)
        )
    return [p.name for p in removed]


def _import_uploaded() -> None:
    """on_change of the uploader: validate and store the file, then select it (runs before the script)."""
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        st.session_state.pop(UPLOAD_MESSAGE_KEY, None)
        return
    name = escape_markdown(upload.name, 80)
    if upload.size > MAX_CHECKPOINT_BYTES:
        text = f"Rejected {name}: {upload.size / 2**20:,.1f} MB is larger than a checkpoint this app can show."
        st.session_state[UPLOAD_MESSAGE_KEY] = ("error", text)
        return
    test, _ = try_split(train=False)
    try:
        uploads.start(upload.name, upload.getvalue(), test)  # scored and saved in the background
    except CheckpointError as exc:
        st.session_state[UPLOAD_MESSAGE_KEY] = ("error", f"Rejected: {escape_markdown(exc, 400)}")
        return
    except Exception:  # noqa: BLE001 - whatever the file does, the sidebar stays; the details go to the log
        _log.exception("upload of %r failed", upload.name)
        st.session_state[UPLOAD_MESSAGE_KEY] = ("error", f"Rejected {name}: it could not be read as a model.")
        return
    st.session_state.pop(UPLOAD_MESSAGE_KEY, None)


def model_selector() -> None:
    """Choose the model every page uses: shipped, trained in the app, or uploaded."""
    _startup()
    uploads.finish(UPLOAD_MESSAGE_KEY)
    models = list_models()
    valid = {str(m.path): m for m in models if m.valid}
    if not valid:
        st.sidebar.warning(
            "No usable checkpoints: the models/ folder is empty and nothing has been trained or uploaded."
        )
    else:
        options = list(valid)
        if st.session_state.get(MODEL_KEY) not in valid:
            st.session_state[MODEL_KEY] = options[0]
        path = st.sidebar.selectbox("Model", options, key=MODEL_KEY, format_func=lambda p: valid[p].label())
        st.sidebar.caption(escape_markdown(valid[path].caption(), 300))
        st.sidebar.download_button(
            "Download checkpoint",
            data=lambda: Path(path).read_bytes(),
            file_name=Path(path).name,
            mime="application/octet-stream",
            on_click="ignore",
            key="sidebar_download",
            icon=":material/download:",
        )
    if hidden("upload"):  # a teacher's link: ?hide=upload
        return
    with st.sidebar.expander("Upload a model"):
        st.file_uploader(
            "A .safetensors checkpoint from this app, or a PyTorch .pt/.pth state dict",
            type=["safetensors", "pt", "pth"],
            key=UPLOAD_KEY,
            on_change=_import_uploaded,
            max_upload_size=MAX_UPLOAD_MB,
            help="PyTorch files are read with torch.load(weights_only=True) after a check of the archive, so no "
            f"code in them runs. Rows of 28 pixels, 10 digits, up to 512 units; at most {MAX_UPLOAD_MB} MB. "
            f"Uploads are stored in {user_models_dir()}.",
        )
        kind, text = (None, None) if uploads.progress() else st.session_state.get(UPLOAD_MESSAGE_KEY, (None, None))
        if kind == "error":
            st.error(text)
        elif kind == "success":
            st.success(text)
        for m in models:
            if not m.valid:
                st.caption(f"⚠️ {escape_markdown(m.path.name, 80)} cannot be used: {escape_markdown(m.error, 300)}")
