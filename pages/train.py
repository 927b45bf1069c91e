"""Train a model: pick a recipe, watch the loss and accuracy live, stop any time, compare."""

import streamlit as st

from lstmviz.jobs.spec import format_duration, training_data_missing
from lstmviz.model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS
from lstmviz.registry import user_models_dir
from lstmviz.train import PRESETS
from lstmviz.ui import links
from lstmviz.ui import train as ui
from lstmviz.ui.common import data_dir_option, ensure_navigation
from lstmviz.ui.models import escape_markdown

ensure_navigation()

HIDDEN_SIZES = [h for h in (16, 32, 64, 128, 256, 512) if MIN_HIDDEN <= h <= MAX_HIDDEN]
TRAIN_SIZES = [1000, 2000, 5000, 10_000, 20_000, 30_000, 55_000, 60_000]
BATCH_SIZES = [32, 64, 128, 256, 512]
PRESET_HELP = {
    "default": "AdamW, one-cycle learning rate, gradient clipping, label smoothing and stroke augmentation",
    "notebook": "the original notebook: plain Adam at a constant 1e-3, no augmentation, N(0,1) initialisation",
}


def _settings(running: bool) -> None:
    defaults = {
        "train_preset": "default",
        "train_epochs": 1,
        "train_hidden": 128,
        "train_layers": 1,
        "train_seed": 0,
        "train_name": "",
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if "train_lr" not in st.session_state:
        ui.apply_preset()
    c = st.columns([3, 2, 2, 3, 3])
    c[0].selectbox(
        "Preset",
        list(PRESETS),
        key="train_preset",
        on_change=ui.apply_preset,
        help="; ".join(f"**{k}**: {v}" for k, v in PRESET_HELP.items()),
        disabled=running,
    )
    c[1].number_input("Epochs", min_value=1, max_value=50, step=1, key="train_epochs", disabled=running)
    c[2].selectbox(
        "Layers", range(MIN_LAYERS, MAX_LAYERS + 1), key="train_layers", disabled=running, help="stacked layers"
    )
    c[3].select_slider("Hidden units", HIDDEN_SIZES, key="train_hidden", disabled=running)
    c[4].select_slider("Training images", TRAIN_SIZES, key="train_n", format_func=lambda n: f"{n:,}", disabled=running)
    c = st.columns(4)
    c[0].number_input(
        "Learning rate", min_value=1e-5, max_value=1.0, step=1e-4, format="%.4f", key="train_lr", disabled=running
    )
    c[1].select_slider("Batch size", BATCH_SIZES, key="train_batch", disabled=running)
    c[2].number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", disabled=running)
    c[3].text_input("Name (optional)", key="train_name", max_chars=60, placeholder="e.g. class-demo", disabled=running)


def page() -> None:
    st.title("Train a model")
    st.markdown(
        "Train a fresh network on MNIST while you watch. Each run is saved as a **new** checkpoint "
        f"in `{user_models_dir()}` (the shipped models are never touched) and appears in the sidebar's "
        "model list, so every page can use it."
    )
    links.sync("train")
    owner = ui.owner()
    job = ui.registry().job_for(owner)
    snap = job.snapshot() if job else None
    running = bool(snap and snap.active)
    ui.past_runs_panel()
    missing = None if running else training_data_missing(data_dir_option())
    if missing:
        st.info(
            "Training needs the MNIST training set, which this server does not have. Every other page works "
            "without it.\n\n" + escape_markdown(missing.replace("\n", " "), 1200),
            icon=":material/info:",
        )
    _settings(running or bool(missing))
    try:
        spec = ui.spec_from_state()
        estimate = None if missing or running else ui.estimate(spec)
        st.caption(
            f"{spec.steps_per_epoch():,} batches per epoch, {spec.total_steps():,} in all; the accuracy "
            f"curve is measured {spec.live_evals_per_epoch()} times an epoch on {spec.eval_size:,} training digits held out from the run, "
            "the saved model on all 10,000."
            + (
                f" **Rough estimate: about {format_duration(estimate)}** on this server (one core), if nothing "
                "else runs."
                if estimate
                else ""
            )
        )
    except ValueError as exc:
        st.error(f"Cannot start: {escape_markdown(exc, 300)}")
    b1, b2, _ = st.columns([2, 1, 5])
    b1.button(
        "Start training",
        key="train_start",
        on_click=ui.start,
        disabled=running or bool(missing),
        type="primary",
        icon=":material/play_arrow:",
    )
    b2.button(
        "Stop",
        key="train_stop",
        on_click=ui.stop,
        disabled=not running or snap.stop_requested,
        icon=":material/stop:",
        help="end after the current batch and keep the best model so far",
    )
    kind, text = st.session_state.get("train_error", (None, None))
    if kind == "error":
        st.error(escape_markdown(text, 600))
    if not running:
        busy = ui.registry().busy_message(owner)
        st.fragment(run_every=2.0 if busy else None)(ui.busy_panel)(owner)
    if snap is None:
        return
    if not running:
        st.session_state["train_done_seen"] = snap.job_id
    st.fragment(run_every=ui.PROGRESS_EVERY if running else None)(ui.live_progress)(owner)
    st.fragment(run_every=ui.CHARTS_EVERY if running else None)(ui.live_charts)(owner)
    if not running:
        ui.results(snap)


page()
