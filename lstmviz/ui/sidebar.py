"""The sidebar model selector used by every page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..checkpoint import DEFAULT_CHECKPOINT, MODELS_DIR
from .common import MODEL_KEY


def model_selector() -> None:
    """Choose the model every page uses (shipped checkpoints in models/)."""
    paths = sorted(MODELS_DIR.glob("*.safetensors"), key=lambda p: (p != DEFAULT_CHECKPOINT, p.name))
    if not paths:
        st.sidebar.warning(f"No checkpoints in {MODELS_DIR}")
        return
    options = [str(p) for p in paths]
    if st.session_state.get(MODEL_KEY) not in options:
        st.session_state[MODEL_KEY] = options[0]
    st.sidebar.selectbox("Model", options, key=MODEL_KEY, format_func=lambda p: Path(p).stem)
