"""The Draw page's inputs: the canvas (with a digit a link brought, `?drawn=`) and the picture upload.

Each returns (the model's 28x28 input, None) or (None, a prompt to show).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from ..links import LinkValueError, decode_drawing, encode_drawing
from ..preprocess import UPLOAD_TYPES, BlankImageError, ImageError, canvas_to_mnist, file_to_mnist

CANVAS_PX = 280  # 10 screen pixels per MNIST pixel
INK, PAPER = "#FFFFFF", "#000000"
CLEAR_KEY = "draw_canvas_gen"
DRAWN_KEY = "draw_drawn"  # the drawn digit as its link carries it (lstmviz.links.encode_drawing)
DRAWN_BY_KEY = "draw_drawn_by"  # "canvas" once DRAWN_KEY holds the canvas's drawing, not a link's
DRAW_PROMPT = "Draw a digit on the black canvas (one digit, large, using most of the square)."


def canvas_key() -> str:
    """The canvas's widget key; Clear changes it, which mounts a fresh, empty canvas."""
    return f"draw_canvas_{st.session_state.get(CLEAR_KEY, 0)}"


def clear() -> None:
    st.session_state[CLEAR_KEY] = st.session_state.get(CLEAR_KEY, 0) + 1
    st.session_state.pop(DRAWN_KEY, None)  # a digit that came with the link goes too


def linked_drawing(note) -> tuple[np.ndarray | None, str | None]:
    """The digit a link brought (`?drawn=`), shown until the student draws or clears (with a note in the
    container `note`); else the prompt."""
    code = st.session_state.get(DRAWN_KEY)
    if code is not None and st.session_state.get(DRAWN_BY_KEY) != "canvas":
        try:
            image = decode_drawing(code)
        except LinkValueError:
            image = None
        if image is not None:
            note.info(
                "**This digit came with the link** (the preview shows it as the model receives it). "
                "Draw on the canvas to replace it, or press Clear.",
                icon=":material/link:",
            )
            return image, None
    st.session_state.pop(DRAWN_KEY, None)  # the canvas was emptied (undo, reset): so is the link
    return None, DRAW_PROMPT


def drawn_image() -> tuple[np.ndarray | None, str | None]:
    """The canvas with its controls; returns (28x28 input, None) or (None, prompt)."""
    stroke = st.slider("Stroke width", 6, 40, 22, key="draw_stroke", help="In canvas pixels; the canvas is 280×280.")
    note = st.container()  # above the canvas: where a digit that came with the link is said to come from
    result = st_canvas(
        stroke_width=stroke,
        stroke_color=INK,
        background_color=PAPER,
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode="freedraw",
        return_image_data=True,
        key=canvas_key(),
    )
    st.button(
        "Clear", key="draw_clear", on_click=clear, icon=":material/delete:", help="Start again with an empty canvas"
    )
    st.caption("The canvas toolbar (hover over the canvas) has **undo**, **redo** and **reset**.")
    try:
        image = canvas_to_mnist(result.image_data)
    except BlankImageError:
        return linked_drawing(note)
    st.session_state[DRAWN_KEY] = encode_drawing(image)  # the link carries the drawing
    st.session_state[DRAWN_BY_KEY] = "canvas"
    return image, None


@st.cache_data(show_spinner=False, max_entries=8)
def upload_to_mnist(data: bytes) -> np.ndarray:
    """A PNG/JPEG file's bytes -> the model's 28x28 input (cached: decoding a large photo takes a moment)."""
    return file_to_mnist(data)


def uploaded_image() -> tuple[np.ndarray | None, str | None]:
    """The file uploader; returns (28x28 input, None) or (None, prompt). A bad file shows an error."""
    upload = st.file_uploader(
        "A picture of one digit (PNG, JPEG, WebP, BMP or GIF): any size, dark on light or light on dark",
        type=UPLOAD_TYPES,
        key="draw_upload",
    )
    if upload is None:
        return None, "Choose a picture of a digit, or switch to drawing one."
    try:
        return upload_to_mnist(upload.getvalue()), None
    except BlankImageError:
        return None, f"{upload.name} looks blank: there is no digit to read. Draw one, or choose another picture."
    except ImageError as exc:
        st.error(f"{upload.name} cannot be used: {exc}.")
        return None, None


def forget_linked_drawing() -> None:
    """An upload replaces the digit a link brought."""
    st.session_state.pop(DRAWN_KEY, None)
