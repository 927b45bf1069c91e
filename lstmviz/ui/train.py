"""The Train page's parts: the job registry, the live progress panel, the results and the fault notes.

pages/train.py draws the settings and lays the page out; the settings become a JobSpec here, and
everything else here draws from a job's snapshot or the models folder, so the page stays thin (and a
progress refresh stays cheap).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import streamlit as st

from ..checkpoint import DEFAULT_CHECKPOINT
from ..data import resolve_data_dir
from ..figures.training import accuracy_figure, loss_figure
from ..jobs.journal import dismiss_past_run, past_runs
from ..jobs.runs import REGISTRY, JobRegistry, JobSnapshot
from ..jobs.spec import JobSpec, estimate_seconds, format_duration
from ..registry import FolderError, ModelInfo, read_info, user_models_dir
from ..train import PRESETS, heldout_of
from .charts import plotly_chart
from .common import MODEL_KEY, data_dir_option
from .models import escape_markdown


@st.cache_resource(show_spinner=False)
def registry() -> JobRegistry:
    """The process-wide job registry, held here so that it survives Streamlit's module reloads.

    When a source file changes, Streamlit unloads every watched module, lstmviz.jobs.runs included;
    a fresh REGISTRY would forget the runs in progress (and let a second one start).
    """
    return REGISTRY


def owner() -> str:
    """This browser session's id in the job registry (the job outlives reruns, not the server)."""
    if "train_owner" not in st.session_state:
        st.session_state["train_owner"] = uuid.uuid4().hex
    return st.session_state["train_owner"]


def session_alive() -> Callable[[], bool] | None:
    """A check, callable from any thread, that this browser session still exists (None outside a server)."""
    from streamlit.runtime import Runtime, exists
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if not exists() or ctx is None:
        return None
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def apply_preset() -> None:
    """Preset changed: reset the learning rate, batch size and training-set size to its values."""
    recipe = PRESETS[st.session_state["train_preset"]]
    st.session_state["train_lr"] = recipe.lr
    st.session_state["train_batch"] = recipe.batch_size
    st.session_state["train_n"] = recipe.n_train or 60_000


def spec_from_state() -> JobSpec:
    """The JobSpec of the Train page's widgets (their keys are prefixed train_)."""
    s = st.session_state
    return JobSpec(
        preset=s["train_preset"],
        epochs=int(s["train_epochs"]),
        hidden_size=int(s["train_hidden"]),
        num_layers=int(s["train_layers"]),
        lr=float(s["train_lr"]),
        batch_size=int(s["train_batch"]),
        seed=int(s["train_seed"]),
        n_train=int(s["train_n"]),
        name=s["train_name"].strip() or None,
        data_dir=str(resolve_data_dir(data_dir_option())),
        models_dir=str(user_models_dir()),
    )


def start() -> None:
    """Start button: a run for this session, or the reason it cannot start (shown by the page)."""
    st.session_state.pop("train_error", None)
    try:
        registry().start(owner(), spec_from_state(), alive=session_alive())
    except ValueError as exc:
        st.session_state["train_error"] = ("error", f"Cannot start: {exc}")
    except RuntimeError as exc:  # TrainingBusyError (caught by its base: the registry may predate a reload)
        st.session_state["train_error"] = ("warning", str(exc))
    except OSError as exc:
        st.session_state["train_error"] = ("error", f"Could not start the training process: {exc}")


def stop() -> None:
    job = registry().job_for(owner())
    if job is not None:
        job.stop()


def use(path: str) -> None:
    st.session_state[MODEL_KEY] = path


def retry_save() -> None:
    job = registry().job_for(owner())
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
def estimate(spec: JobSpec) -> float:
    return estimate_seconds(spec)


PROGRESS_EVERY = 1.0  # seconds between refreshes of the progress bar while a run trains
CHARTS_EVERY = 3.0  # and of the two curves (their figures are most of a refresh's server CPU)


def _drawable(owner: str):
    """(job, snapshot) of this session's run, or (None, None) when there is nothing to draw."""
    job = registry().job_for(owner)
    if job is None:
        return None, None
    snap = job.snapshot()
    if snap.state == "failed" and not snap.loss_history:
        return None, None  # nothing to draw: the results below say why, once
    return job, snap


def live_progress(owner: str) -> None:
    """Progress bar of this session's run (a fragment polls it every PROGRESS_EVERY s while it runs).

    A refresh copies the job's snapshot and sends one progress element: a few milliseconds of server
    CPU (benchmarks/bench_train.py --refresh), so a run in progress does not slow the other sessions.
    The text carries the latest loss and held-out accuracy; the curves follow in live_charts.
    """
    job, snap = _drawable(owner)
    if job is None:
        return
    st.progress(snap.fraction, text=escape_markdown(snap.progress_text(), 300))
    if not snap.active and st.session_state.get("train_done_seen") != snap.job_id:
        st.session_state["train_done_seen"] = snap.job_id
        st.rerun()  # the whole app: the sidebar lists the new model, the results appear


def live_charts(owner: str) -> None:
    """Loss and held-out accuracy curves of this session's run (a fragment, every CHARTS_EVERY s).

    Two small figures built without Plotly's validation; Streamlit still copies each figure's
    template, so they are redrawn less often than the progress bar.
    """
    job, snap = _drawable(owner)
    if job is None:
        return
    left, right = st.columns(2)
    epochs = job.spec.recipe().epochs if job.spec.max_batches is None else None
    plotly_chart(
        loss_figure(snap.loss_history, snap.steps_per_epoch, epochs=epochs),
        key="train_loss_chart",
        where=left,
        tools=True,
    )
    curve = ([e["epoch"] for e in snap.eval_history], [e["accuracy"] for e in snap.eval_history])
    plotly_chart(
        accuracy_figure(
            {f"this run ({job.spec.eval_size:,} held-out training digits)": curve},
            title="Held-out accuracy while training",
            epochs=epochs,
        ),
        key="train_acc_chart",
        where=right,
        tools=True,
    )


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
    points = [
        (h["epoch"], heldout_of(h))
        for h in history
        if isinstance(h, dict) and isinstance(h.get("epoch"), (int, float)) and heldout_of(h) is not None
    ]
    return ([p[0] for p in points], [p[1] for p in points]) if points else None


def results(snap: JobSnapshot) -> None:
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
        st.button(
            "Use this model",
            on_click=use,
            args=(snap.path,),
            key="train_use",
            type="primary",
            help="select it in the sidebar so every page uses it",
        )
    new, shipped = read_info(snap.path), read_info(DEFAULT_CHECKPOINT)
    if not new.valid:
        st.error(f"The saved checkpoint cannot be read back: {escape_markdown(new.error, 300)}")
        return
    st.subheader("Compared with the shipped model")
    st.dataframe([_row(new)] + ([_row(shipped)] if shipped.valid else []), hide_index=True)
    eval_size = new.metrics.get("eval_size")
    new_label = f"{new.name} ({eval_size:,} held-out training digits)" if isinstance(eval_size, int) else new.name
    curve = _history_curve(new)
    if curve:
        # the new run on its own axis; the shipped model (often 30 epochs) as a line at its final accuracy
        refs = {}
        if shipped.valid and shipped.accuracy is not None:
            epochs = shipped.metrics.get("epochs")
            refs[f"{shipped.name} (shipped" + (f", {epochs} epochs)" if isinstance(epochs, int) else ")")] = (
                shipped.accuracy
            )
        run_epochs = new.metrics.get("epochs") if isinstance(new.metrics.get("epochs"), (int, float)) else None
        plotly_chart(
            accuracy_figure({new_label: curve}, title="Test accuracy per epoch", epochs=run_epochs, references=refs),
            key="train_compare_chart",
            tools=True,
        )


def _unsaved(message: str) -> None:
    """A trained model the folder could not take: download it, or try the save again."""
    job = registry().job_for(owner())
    held = job.unsaved_checkpoint() if job else None
    st.warning(message)
    if held is None:
        return
    name, data = held
    c1, c2, _ = st.columns([2, 2, 4])
    c1.download_button(
        "Download the trained model",
        data=data,
        file_name=name,
        mime="application/octet-stream",
        key="train_download_unsaved",
        icon=":material/download:",
        on_click="ignore",
    )
    c2.button("Try saving again", key="train_retry_save", on_click=retry_save, icon=":material/save:")
    if st.session_state.get("train_save_error"):
        st.error(escape_markdown(st.session_state["train_save_error"], 400))


def past_runs_panel() -> None:
    """Runs this server process did not start: interrupted by a restart. Say what happened and what was kept."""
    folder = user_models_dir()
    for run in past_runs(folder, known=registry().run_ids()):
        box = st.container(border=True)
        box.info(escape_markdown(run.text, 600), icon=":material/restart_alt:")
        c1, c2, _ = box.columns([2, 1, 5])
        if run.path and st.session_state.get(MODEL_KEY) != run.path:
            c1.button("Use this model", key=f"train_past_use_{run.run_id}", on_click=use, args=(run.path,))
        if not run.finishing:
            c2.button(
                "Dismiss", key=f"train_past_dismiss_{run.run_id}", on_click=dismiss_past_run, args=(folder, run.run_id)
            )


def busy_panel(owner: str) -> None:
    """For a session waiting on another's run: what runs and how far, kept live by a fragment."""
    busy = registry().busy_message(owner)
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
