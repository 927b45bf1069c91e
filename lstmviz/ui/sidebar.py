"""The sidebar model selector used by every page: choose, download and upload checkpoints."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..checkpoint import CheckpointError
from ..registry import import_upload, list_models, user_models_dir
from .common import MODEL_KEY, try_split
from .links import hidden

UPLOAD_KEY = "sidebar_upload"
UPLOAD_MESSAGE_KEY = "sidebar_upload_message"


def _import_uploaded() -> None:
    """on_change of the uploader: validate and store the file, then select it (runs before the script)."""
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        st.session_state.pop(UPLOAD_MESSAGE_KEY, None)
        return
    test, _ = try_split(train=False)
    try:
        path = import_upload(upload.name, upload.getvalue(), test)
    except CheckpointError as exc:
        st.session_state[UPLOAD_MESSAGE_KEY] = ("error", f"Rejected: {exc}")
        return
    st.session_state[MODEL_KEY] = str(path)
    st.session_state[UPLOAD_MESSAGE_KEY] = ("success", f"Added and selected {path.stem}.")


def model_selector() -> None:
    """Choose the model every page uses: shipped, trained in the app, or uploaded."""
    models = list_models()
    valid = {str(m.path): m for m in models if m.valid}
    if not valid:
        st.sidebar.warning("No usable checkpoints: the models/ folder is empty and nothing has been trained or uploaded.")
    else:
        options = list(valid)
        if st.session_state.get(MODEL_KEY) not in valid:
            st.session_state[MODEL_KEY] = options[0]
        path = st.sidebar.selectbox("Model", options, key=MODEL_KEY, format_func=lambda p: valid[p].label())
        st.sidebar.caption(valid[path].caption())
        st.sidebar.download_button("Download checkpoint", data=lambda: Path(path).read_bytes(),
                                   file_name=Path(path).name, mime="application/octet-stream",
                                   on_click="ignore", key="sidebar_download", icon=":material/download:")
    if hidden("upload"):  # a teacher's link: ?hide=upload
        return
    with st.sidebar.expander("Upload a model"):
        st.file_uploader(
            "A .safetensors checkpoint from this app, or a PyTorch .pt/.pth state dict",
            type=["safetensors", "pt", "pth"], key=UPLOAD_KEY, on_change=_import_uploaded,
            help="PyTorch files are read with torch.load(weights_only=True), so no code in them runs. "
                 f"Uploads are stored in {user_models_dir()}.",
        )
        kind, text = st.session_state.get(UPLOAD_MESSAGE_KEY, (None, None))
        if kind == "error":
            st.error(text)
        elif kind == "success":
            st.success(text)
        for m in models:
            if not m.valid:
                st.caption(f"⚠️ {m.path.name} cannot be used: {m.error}")
