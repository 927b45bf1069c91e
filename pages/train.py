"""Train a model: pick a recipe, watch the loss and accuracy live, stop any time, compare."""

import uuid

import streamlit as st

from lstmviz.checkpoint import DEFAULT_CHECKPOINT
from lstmviz.data import resolve_data_dir
from lstmviz.figures.training import accuracy_figure, loss_figure
from lstmviz.jobs import REGISTRY, JobRegistry, JobSnapshot, JobSpec, format_duration
from lstmviz.registry import ModelInfo, read_info, user_models_dir
from lstmviz.train import PRESETS
from lstmviz.ui import links
from lstmviz.ui.common import MODEL_KEY, data_dir_option, ensure_navigation

ensure_navigation()

HIDDEN_SIZES = [16, 32, 64, 128, 256]
TRAIN_SIZES = [1000, 2000, 5000, 10_000, 20_000, 30_000, 55_000, 60_000]
BATCH_SIZES = [32, 64, 128, 256, 512]
PRESET_HELP = {
    "default": "AdamW, one-cycle learning rate, gradient clipping, label smoothing and stroke augmentation",
    "notebook": "the original notebook: plain Adam at a constant 1e-3, no augmentation, N(0,1) initialisation",
}


@st.cache_resource(show_spinner=False)
def _registry() -> JobRegistry:
    """The process-wide job registry, held here so that it survives Streamlit's module reloads.

    When a source file changes, Streamlit unloads every watched module, lstmviz.jobs included;
    a fresh REGISTRY would forget the runs in progress (and let a second one start).
    """
    return REGISTRY


def _owner() -> str:
    """This browser session's id in the job registry (the job outlives reruns, not the server)."""
    if "train_owner" not in st.session_state:
        st.session_state["train_owner"] = uuid.uuid4().hex
    return st.session_state["train_owner"]


def _apply_preset() -> None:
    """Preset changed: reset the learning rate, batch size and training-set size to its values."""
    recipe = PRESETS[st.session_state["train_preset"]]
    st.session_state["train_lr"] = recipe.lr
    st.session_state["train_batch"] = recipe.batch_size
    st.session_state["train_n"] = recipe.n_train or 60_000


def _spec() -> JobSpec:
    s = st.session_state
    return JobSpec(preset=s["train_preset"], epochs=int(s["train_epochs"]), hidden_size=int(s["train_hidden"]),
                   lr=float(s["train_lr"]), batch_size=int(s["train_batch"]), seed=int(s["train_seed"]),
                   n_train=int(s["train_n"]), name=s["train_name"].strip() or None,
                   data_dir=str(resolve_data_dir(data_dir_option())), models_dir=str(user_models_dir()))


def _start() -> None:
    st.session_state.pop("train_error", None)
    try:
        _registry().start(_owner(), _spec())
    except ValueError as exc:
        st.session_state["train_error"] = ("error", f"Cannot start: {exc}")
    except RuntimeError as exc:  # TrainingBusyError (caught by its base: the registry may predate a reload)
        st.session_state["train_error"] = ("warning", str(exc))
    except OSError as exc:
        st.session_state["train_error"] = ("error", f"Could not start the training process: {exc}")


def _stop() -> None:
    job = _registry().job_for(_owner())
    if job is not None:
        job.stop()


def _use(path: str) -> None:
    st.session_state[MODEL_KEY] = path


def _settings(running: bool) -> None:
    defaults = {"train_preset": "default", "train_epochs": 1, "train_hidden": 128, "train_seed": 0, "train_name": ""}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if "train_lr" not in st.session_state:
        _apply_preset()
    c = st.columns(4)
    c[0].selectbox("Preset", list(PRESETS), key="train_preset", on_change=_apply_preset,
                   help="; ".join(f"**{k}**: {v}" for k, v in PRESET_HELP.items()), disabled=running)
    c[1].number_input("Epochs", min_value=1, max_value=50, step=1, key="train_epochs", disabled=running)
    c[2].select_slider("Hidden units", HIDDEN_SIZES, key="train_hidden", disabled=running)
    c[3].select_slider("Training images", TRAIN_SIZES, key="train_n", format_func=lambda n: f"{n:,}", disabled=running)
    c = st.columns(4)
    c[0].number_input("Learning rate", min_value=1e-5, max_value=1.0, step=1e-4, format="%.4f", key="train_lr",
                      disabled=running)
    c[1].select_slider("Batch size", BATCH_SIZES, key="train_batch", disabled=running)
    c[2].number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="train_seed", disabled=running)
    c[3].text_input("Name (optional)", key="train_name", max_chars=60, placeholder="e.g. class-demo",
                    disabled=running)


def _live_panel(owner: str) -> None:
    """Progress bar and curves of this session's job (a fragment polls it while it runs)."""
    job = _registry().job_for(owner)
    if job is None:
        return
    snap = job.snapshot()
    st.progress(snap.fraction, text=snap.progress_text())
    left, right = st.columns(2)
    left.plotly_chart(loss_figure(snap.loss_history, snap.steps_per_epoch), key="train_loss_chart")
    curve = ([e["epoch"] for e in snap.eval_history], [e["accuracy"] for e in snap.eval_history])
    right.plotly_chart(accuracy_figure({f"this run ({job.spec.eval_size:,} test digits)": curve},
                                       title="Test accuracy while training"), key="train_acc_chart")
    if not snap.active and st.session_state.get("train_done_seen") != snap.job_id:
        st.session_state["train_done_seen"] = snap.job_id
        st.rerun()  # the whole app: the sidebar lists the new model, the results appear


def _row(info: ModelInfo) -> dict:
    m = info.metrics
    seconds = m.get("train_seconds")
    return {
        "model": f"{info.name} ({info.kind})",
        "test accuracy": info.accuracy_text,
        "cell": (info.cell or "?").upper(),
        "hidden": info.hidden_size,
        "parameters": f"{info.n_params:,}" if info.n_params else "?",
        "recipe": info.recipe or "unknown",
        "epochs": m.get("epochs"),
        "training time": format_duration(seconds) if isinstance(seconds, (int, float)) else "?",
    }


def _history_curve(info: ModelInfo) -> tuple[list, list] | None:
    history = info.metrics.get("history")
    if not isinstance(history, list):
        return None
    points = [(h["epoch"], h["test_accuracy"]) for h in history
              if isinstance(h, dict) and isinstance(h.get("epoch"), (int, float))
              and isinstance(h.get("test_accuracy"), (int, float))]
    return ([p[0] for p in points], [p[1] for p in points]) if points else None


def _results(snap: JobSnapshot) -> None:
    """What the finished run left: the message, 'use this model', a comparison with the shipped one."""
    if snap.state == "failed":
        st.error(snap.message)
        return
    if snap.path is None:
        st.warning(snap.message)
        return
    st.success(snap.message)
    if st.session_state.get(MODEL_KEY) == snap.path:
        st.caption("✅ Selected in the sidebar: every page now uses this model.")
    else:
        st.button("Use this model", on_click=_use, args=(snap.path,), key="train_use", type="primary",
                  help="select it in the sidebar so every page uses it")
    new, shipped = read_info(snap.path), read_info(DEFAULT_CHECKPOINT)
    if not new.valid:
        st.error(f"The saved checkpoint cannot be read back: {new.error}")
        return
    st.subheader("Compared with the shipped model")
    st.dataframe([_row(new)] + ([_row(shipped)] if shipped.valid else []), hide_index=True)
    eval_size = new.metrics.get("eval_size")
    new_label = f"{new.name} ({eval_size:,} test digits)" if isinstance(eval_size, int) else new.name
    curves = {name: c for name, c in ((new_label, _history_curve(new)),
                                      (f"{shipped.name} (shipped)", _history_curve(shipped))) if c}
    if len(curves) == 2:
        st.plotly_chart(accuracy_figure(curves, title="Test accuracy per epoch"), key="train_compare_chart")
    elif shipped.valid:
        st.caption("The shipped model's checkpoint holds no training history, so only the numbers are compared.")


def page() -> None:
    st.title("Train a model")
    st.markdown("Train a fresh network on MNIST while you watch. Each run is saved as a **new** checkpoint "
                f"in `{user_models_dir()}` (the shipped models are never touched) and appears in the sidebar's "
                "model list, so every page can use it.")
    links.sync("train")
    owner = _owner()
    job = _registry().job_for(owner)
    snap = job.snapshot() if job else None
    running = bool(snap and snap.active)
    _settings(running)
    try:
        spec = _spec()
        st.caption(f"{spec.steps_per_epoch():,} batches per epoch, {spec.total_steps():,} in all; the accuracy "
                   f"curve is measured {spec.live_evals_per_epoch()} times an epoch on {spec.eval_size:,} test digits, "
                   "the saved model on all 10,000.")
    except ValueError as exc:
        st.error(f"Cannot start: {exc}")
    b1, b2, _ = st.columns([2, 1, 5])
    b1.button("Start training", key="train_start", on_click=_start, disabled=running, type="primary",
              icon=":material/play_arrow:")
    b2.button("Stop", key="train_stop", on_click=_stop, disabled=not running or snap.stop_requested,
              icon=":material/stop:", help="end after the current batch and keep the best model so far")
    busy = None if running else _registry().busy_message(owner)
    kind, text = st.session_state.get("train_error", (None, None))
    if kind == "warning" and busy:
        st.warning(text, icon="⏳")
    elif kind == "error":
        st.error(text)
    elif busy:
        st.info(busy, icon="⏳")
    if snap is None:
        return
    if not running:
        st.session_state["train_done_seen"] = snap.job_id
    st.fragment(run_every=1.0 if running else None)(_live_panel)(owner)
    if not running:
        _results(snap)


page()
