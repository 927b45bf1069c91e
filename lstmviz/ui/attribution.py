"""The row-attribution component: which rows of one digit mattered for a class (explorer and draw pages)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ..attribution import METHODS, SCORES, RowAttribution, attribute_rows
from ..checkpoint import LoadedModel
from ..figures.attribution import row_attribution_figure
from .cache import model_id
from .charts import plotly_chart

METHOD_TITLES = {"occlusion": "Occlusion", "integrated_gradients": "Integrated gradients"}
SCORE_TITLES = {"probability": "probability", "logit": "logit (score before softmax)"}

CAPTIONS = {
    "occlusion": "**Occlusion** blanks one row at a time (sets its 28 pixels to zero) and lets the network read the "
    "digit again: each bar is how much the {score} of **{target}** drops ({value} for the whole digit). Red rows "
    "helped {target}, blue rows spoke against it. A blank row gets exactly 0: blanking it changes nothing. A "
    "well-trained network often shrugs off losing one row, because the rows next to it carry the same stroke.",
    "integrated_gradients": "**Integrated gradients** fades the digit in from a blank image and adds up, pixel by "
    "pixel, how much each pixel pushed the {score} of **{target}** along the way; each bar is the sum over one "
    "row's 28 pixels. The bars add up to the digit's score minus the blank image's: {value} − {blank} = {delta} "
    "(sum of the bars: {total}). Blank pixels get exactly 0, so blank rows do too.",
}


@st.cache_data(show_spinner="Measuring which rows mattered…", max_entries=256)
def _attribution(
    sha256: str, image_bytes: bytes, shape: tuple[int, ...], target: int, method: str, score: str, _loaded: LoadedModel
) -> RowAttribution:
    image = np.frombuffer(image_bytes, dtype=np.float32).reshape(shape)
    return attribute_rows(_loaded.model, image, target, method, score)


def cached_attribution(loaded: LoadedModel, image: np.ndarray, target: int, method: str, score: str) -> RowAttribution:
    """Row attribution cached per checkpoint sha256, image bytes, target, method and score."""
    img = np.ascontiguousarray(image, dtype=np.float32)
    sha = model_id(loaded)
    return _attribution(sha, img.tobytes(), img.shape, int(target), method, score, loaded)


def _follow_target(key_prefix: str, target: int) -> str:
    """The class select box follows `target` when the caller's target changes (a new digit); returns its key."""
    key, last = f"{key_prefix}attr_class", f"{key_prefix}attr_last_target"
    if st.session_state.get(last) != target or key not in st.session_state:
        st.session_state[key] = target
        st.session_state[last] = target
    return key


def _fmt(value: float, score: str) -> str:
    return f"{value:.3f}" if score == "probability" else f"{value:+.2f}"


def render_attribution(loaded: LoadedModel, image: np.ndarray, target: int, key_prefix: str) -> None:
    """Method and class controls, bars of the 28 row scores beside the digit, and a teaching caption."""
    n_classes = loaded.config.n_classes
    target = int(np.clip(int(target), 0, n_classes - 1))
    a, b, c = st.columns([2, 2, 1.2], vertical_alignment="bottom")
    method = a.radio("Method", METHODS, format_func=METHOD_TITLES.get, key=f"{key_prefix}attr_method", horizontal=True)
    score = b.radio(
        "Score",
        SCORES,
        format_func=SCORE_TITLES.get,
        key=f"{key_prefix}attr_score",
        horizontal=True,
        index=1,
        help="Probabilities saturate near 1, so one row rarely moves them; logits show more.",
    )
    cls = c.selectbox(
        "Explain class",
        list(range(n_classes)),
        key=_follow_target(key_prefix, target),
        help="Starts at the model's answer; pick another class to ask why it was not chosen.",
    )
    overlay = False
    if method == "integrated_gradients":
        overlay = st.checkbox(
            "Colour the digit's pixels by their own attribution", value=True, key=f"{key_prefix}attr_pixels"
        )
    try:
        result = cached_attribution(loaded, image, int(cls), method, score)
    except ValueError as exc:
        st.error(f"No attribution for this input: {exc}")
        return
    label = f"row's effect on the {score} (drop when blanked)" if method == "occlusion" else f"share of the {score}"
    title = f"Which rows mattered for {cls}? ({METHOD_TITLES[method].lower()})"
    fig = row_attribution_figure(image, result.rows, result.pixels if overlay else None, title, label)
    plotly_chart(fig, key=f"{key_prefix}attr_fig")
    st.caption(
        CAPTIONS[method].format(
            score=score,
            target=cls,
            value=_fmt(result.value, score),
            blank=_fmt(result.baseline_value, score),
            delta=_fmt(result.value - result.baseline_value, score),
            total=_fmt(result.total, score),
        )
    )
