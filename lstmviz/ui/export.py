"""The "Download for slides" area of the explorer and draw pages (rendering lives in lstmviz.export).

The step-through's views are a browser component, not Plotly charts, so they are drawn here on the
server (GIF, MP4, one step as PNG/SVG); every Plotly chart has its own camera button (lstmviz.ui.charts)."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from .. import export
from ..trace import Trace

GIF_STATE = "export_gif"  # {key_prefix: (fingerprint, {"gif": bytes, "mp4": bytes})}: the last animation per page
MIME = {"gif": "image/gif", "mp4": "video/mp4"}


def _fingerprint(trace: Trace, image: np.ndarray, label: int | None) -> str:
    parts = (np.asarray(image, np.float32), np.asarray(trace.logits, np.float32), np.asarray(trace.h, np.float32))
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts))
    digest.update(str(label).encode())
    return digest.hexdigest()[:16]


def render_exports(trace: Trace, image: np.ndarray, label: int | None, key_prefix: str) -> None:
    """GIF and MP4 of the whole step-through (rendered on request, with progress), one step as PNG/SVG,
    the trace as CSV and .npz."""
    w, h = export.FRAME_SIZE
    T = trace.n_steps
    fp = _fingerprint(trace, image, label)
    made = st.session_state.setdefault(GIF_STATE, {})
    formats = export.ANIMATIONS if export.mp4_available() else ("gif",)
    names = " and ".join(f.upper() for f in formats)
    with st.expander("Download for slides", icon=":material/slideshow:"):
        st.caption(
            f"The {T} steps as an animated {names} ({w}×{h} px: the digit with the current row, the probabilities "
            "and h; the MP4 is H.264, which PowerPoint and Keynote play), drawn on the server with matplotlib; one "
            "step as PNG or SVG; the numbers of this trace. Every other chart: its camera button (hover over it) "
            "downloads it as PNG or SVG (**Figure downloads** in the sidebar)."
        )
        gif_col, step_col, data_col = st.columns(3)
        with gif_col:
            if made.get(key_prefix, (None,))[0] != fp:
                request = f"{key_prefix}export_requested"
                if st.session_state.pop(request, None) == fp:
                    bar = st.progress(0.0, text="Drawing frames…")
                    data = export.animations(
                        trace,
                        image,
                        label,
                        formats,
                        progress=lambda k, n: bar.progress(k / n, text=f"Frame {k} of {n}"),
                    )
                    bar.empty()
                    made[key_prefix] = (fp, data)
                else:
                    st.button(
                        f"Make the {names} ({T} frames)",
                        key=f"{key_prefix}export_make",
                        icon=":material/movie:",
                        on_click=st.session_state.__setitem__,
                        args=(request, fp),
                    )
            if made.get(key_prefix, (None,))[0] == fp:
                for fmt, data in made[key_prefix][1].items():
                    st.download_button(
                        f"Download {fmt.upper()}",
                        data,
                        file_name=f"lstmviz-{fp[:8]}.{fmt}",
                        mime=MIME[fmt],
                        key=f"{key_prefix}export_{fmt}",
                        on_click="ignore",
                        icon=":material/download:",
                    )
            if "mp4" not in formats:
                st.caption("MP4 needs the imageio-ffmpeg package (`pip install -r requirements.txt`).")
        with step_col:
            k = int(st.number_input("Step", 1, T, T, key=f"{key_prefix}export_step"))
            a, b = st.columns(2)
            a.download_button(
                "PNG",
                lambda: export.frame_bytes(trace, image, label, k, "png"),
                file_name=f"lstmviz-step{k}.png",
                mime="image/png",
                key=f"{key_prefix}export_png",
                on_click="ignore",
            )
            b.download_button(
                "SVG",
                lambda: export.frame_bytes(trace, image, label, k, "svg"),
                file_name=f"lstmviz-step{k}.svg",
                mime="image/svg+xml",
                key=f"{key_prefix}export_svg",
                on_click="ignore",
            )
        with data_col:
            st.download_button(
                "Trace as CSV",
                lambda: export.trace_csv(trace),
                file_name=f"lstmviz-trace-{fp[:8]}.csv",
                mime="text/csv",
                key=f"{key_prefix}export_csv",
                on_click="ignore",
            )
            st.download_button(
                "Trace as .npz",
                lambda: export.trace_npz(trace, image),
                file_name=f"lstmviz-trace-{fp[:8]}.npz",
                mime="application/octet-stream",
                key=f"{key_prefix}export_npz",
                on_click="ignore",
            )
