"""Train a model: pick a recipe, watch the loss and accuracy live, stop any time, compare."""

import uuid

import streamlit as st

from lstmviz.checkpoint import DEFAULT_CHECKPOINT
from lstmviz.data import resolve_data_dir
from lstmviz.figures.training import accuracy_figure, loss_figure
from lstmviz.jobs import (
    REGISTRY,
    JobRegistry,
    JobSnapshot,
    JobSpec,
    dismiss_past_run,
    estimate_seconds,
    format_duration,
    past_runs,
    training_data_missing,
)
from lstmviz.registry import FolderError, ModelInfo, read_info, user_models_dir
from lstmviz.train import PRESETS
from lstmviz.ui.common import MODEL_KEY, data_dir_option, ensure_navigation
from lstmviz.ui.models import escape_markdown

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


def _session_alive():
    """A check, callable from any thread, that this browser session still exists (None outside a server)."""
    from streamlit.runtime import Runtime, exists
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if not exists() or ctx is None:
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def _start() -> None:
    st.session_state.pop("train_error", None)
    try:
        _registry().start(_owner(), _spec(), alive=_session_alive())
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


def _retry_save() -> None:
    job = _registry().job_for(_owner())
    if job is None:
        return
    try:
        path = job.retry_save()
    except (FolderError, ValueError) as exc:
        st.session_state["train_save_error"] = str(exc)
        return
    st.session_state.pop("train_save_error", None)
    st.session_state[MODEL_KEY] = str(path)


@st.cache_resource(show_spinner="Estimating the duration…", max_entries=64)
def _estimate(spec: JobSpec) -> float:
    return estimate_seconds(spec)


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
    """Progress bar and curves of this session's job (a fragment polls it while it runs).

    Each refresh only copies the job's snapshot and draws two small figures (no Plotly validation):
    a few milliseconds of server time, so a run in progress does not slow the other sessions.
    """
    job = _registry().job_for(owner)
    if job is None:
        return
    snap = job.snapshot()
    if snap.state == "failed" and not snap.loss_history:
        return  # nothing to draw: the results below say why, once
    st.progress(snap.fraction, text=escape_markdown(snap.progress_text(), 300))
    left, right = st.columns(2)
    epochs = job.spec.recipe().epochs if job.spec.max_batches is None else None
    left.plotly_chart(loss_figure(snap.loss_history, snap.steps_per_epoch, epochs=epochs), key="train_loss_chart")
    curve = ([e["epoch"] for e in snap.eval_history], [e["accuracy"] for e in snap.eval_history])
    right.plotly_chart(accuracy_figure({f"this run ({job.spec.eval_size:,} test digits)": curve},
                                       title="Test accuracy while training", epochs=epochs), key="train_acc_chart")
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
    message = escape_markdown(snap.message, 600)
    if snap.state == "failed":
        st.error(message)
        return
    if snap.unsaved:
        _unsaved(message)
        return
    if snap.path is None:
        st.warning(message)
        return
    st.success(message)
    if st.session_state.get(MODEL_KEY) == snap.path:
        st.caption("✅ Selected in the sidebar: every page now uses this model.")
    else:
        st.button("Use this model", on_click=_use, args=(snap.path,), key="train_use", type="primary",
                  help="select it in the sidebar so every page uses it")
    new, shipped = read_info(snap.path), read_info(DEFAULT_CHECKPOINT)
    if not new.valid:
        st.error(f"The saved checkpoint cannot be read back: {escape_markdown(new.error, 300)}")
        return
    st.subheader("Compared with the shipped model")
    st.dataframe([_row(new)] + ([_row(shipped)] if shipped.valid else []), hide_index=True)
    eval_size = new.metrics.get("eval_size")
    new_label = f"{new.name} ({eval_size:,} test digits)" if isinstance(eval_size, int) else new.name
    curve = _history_curve(new)
    if curve:
        # the new run on its own axis; the shipped model (often 30 epochs) as a line at its final accuracy
        refs = {}
        if shipped.valid and shipped.accuracy is not None:
            epochs = shipped.metrics.get("epochs")
            refs[f"{shipped.name} (shipped" + (f", {epochs} epochs)" if isinstance(epochs, int) else ")")] = shipped.accuracy
        run_epochs = new.metrics.get("epochs") if isinstance(new.metrics.get("epochs"), (int, float)) else None
        st.plotly_chart(accuracy_figure({new_label: curve}, title="Test accuracy per epoch", epochs=run_epochs,
                                        references=refs), key="train_compare_chart")


def _unsaved(message: str) -> None:
    """A trained model the folder could not take: download it, or try the save again."""
    job = _registry().job_for(_owner())
    held = job.unsaved_checkpoint() if job else None
    st.warning(message)
    if held is None:
        return
    name, data = held
    c1, c2, _ = st.columns([2, 2, 4])
    c1.download_button("Download the trained model", data=data, file_name=name, mime="application/octet-stream",
                       key="train_download_unsaved", icon=":material/download:", on_click="ignore")
    c2.button("Try saving again", key="train_retry_save", on_click=_retry_save, icon=":material/save:")
    if st.session_state.get("train_save_error"):
        st.error(escape_markdown(st.session_state["train_save_error"], 400))


def _past_runs() -> None:
    """Runs this server process did not start: interrupted by a restart. Say what happened and what was kept."""
    folder = user_models_dir()
    for run in past_runs(folder, known=_registry().run_ids()):
        box = st.container(border=True)
        box.info(escape_markdown(run.text, 600), icon=":material/restart_alt:")
        c1, c2, _ = box.columns([2, 1, 5])
        if run.path and st.session_state.get(MODEL_KEY) != run.path:
            c1.button("Use this model", key=f"train_past_use_{run.run_id}", on_click=_use, args=(run.path,))
        if not run.finishing:
            c2.button("Dismiss", key=f"train_past_dismiss_{run.run_id}", on_click=dismiss_past_run,
                      args=(folder, run.run_id))


def _busy_panel(owner: str) -> None:
    """For a session waiting on another's run: what runs and how far, kept live by a fragment."""
    busy = _registry().busy_message(owner)
    kind, _ = st.session_state.get("train_error", (None, None))
    if busy:
        if kind == "warning":
            st.warning(escape_markdown(busy, 800), icon="⏳")
        else:
            st.info(escape_markdown(busy, 800), icon="⏳")
    elif st.session_state.get("train_was_busy"):
        st.session_state.pop("train_error", None)
        st.session_state["train_was_busy"] = False
        st.rerun()  # the other run has ended: the whole page, so Start is offered again
    st.session_state["train_was_busy"] = bool(busy)


def page() -> None:
    st.title("Train a model")
    st.markdown("Train a fresh network on MNIST while you watch. Each run is saved as a **new** checkpoint "
                f"in `{user_models_dir()}` (the shipped models are never touched) and appears in the sidebar's "
                "model list, so every page can use it.")
    owner = _owner()
    job = _registry().job_for(owner)
    snap = job.snapshot() if job else None
    running = bool(snap and snap.active)
    _past_runs()
    missing = None if running else training_data_missing(data_dir_option())
    if missing:
        st.info("Training needs the MNIST training set, which this server does not have. Every other page works "
                "without it.\n\n" + escape_markdown(missing.replace("\n", " "), 1200), icon=":material/info:")
    _settings(running or bool(missing))
    try:
        spec = _spec()
        estimate = None if missing or running else _estimate(spec)
        st.caption(f"{spec.steps_per_epoch():,} batches per epoch, {spec.total_steps():,} in all; the accuracy "
                   f"curve is measured {spec.live_evals_per_epoch()} times an epoch on {spec.eval_size:,} test digits, "
                   "the saved model on all 10,000."
                   + (f" **Rough estimate: about {format_duration(estimate)}** on this server (one core), if nothing "
                      "else runs." if estimate else ""))
    except ValueError as exc:
        st.error(f"Cannot start: {escape_markdown(exc, 300)}")
    b1, b2, _ = st.columns([2, 1, 5])
    b1.button("Start training", key="train_start", on_click=_start, disabled=running or bool(missing),
              type="primary", icon=":material/play_arrow:")
    b2.button("Stop", key="train_stop", on_click=_stop, disabled=not running or snap.stop_requested,
              icon=":material/stop:", help="end after the current batch and keep the best model so far")
    kind, text = st.session_state.get("train_error", (None, None))
    if kind == "error":
        st.error(escape_markdown(text, 600))
    if not running:
        busy = _registry().busy_message(owner)
        st.fragment(run_every=2.0 if busy else None)(_busy_panel)(owner)
    if snap is None:
        return
    if not running:
        st.session_state["train_done_seen"] = snap.job_id
    st.fragment(run_every=1.0 if running else None)(_live_panel)(owner)
    if not running:
        _results(snap)


page()
