"""A run the server cannot lose track of: each run writes a small journal (`.training-<run id>.json`)
in the user models folder, which the child updates when it ends, so that after a server restart the
Train page can say what happened and which model was kept."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

JOURNAL_GLOB = ".training-*.json"


def journal_path(models_dir: str | os.PathLike, run_id: str) -> Path:
    """The small JSON file that records one run, hidden in the user models folder."""
    return Path(models_dir) / f".training-{run_id}.json"


def write_journal(models_dir: str | os.PathLike, run_id: str, **fields) -> None:
    """Create or update a run's journal; a folder that cannot be written is not an error here."""
    from ..checkpoint import atomic_write_bytes

    path = journal_path(models_dir, run_id)
    try:
        record = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        record = {}
    record.update(fields, run_id=run_id, updated_at=time.time())
    try:
        atomic_write_bytes(path, json.dumps(record).encode())
    except OSError:
        pass


def find_saved(models_dir: str | os.PathLike, run_id: str) -> Path | None:
    """The checkpoint a run saved, found by the run id in its metrics (headers only), or None."""
    from ..registry import list_models

    if not run_id:
        return None
    for info in list_models(user_dir=models_dir):
        if info.valid and info.kind != "shipped" and info.metrics.get("run_id") == run_id:
            return info.path
    return None


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass(frozen=True)
class PastRun:
    """A run this server process did not start (it ran before a restart): what it left."""

    run_id: str
    text: str
    path: str | None
    finishing: bool  # its training process still runs (it ends by saving the best model so far)


def past_runs(models_dir: str | os.PathLike, known: set[str] = frozenset()) -> list[PastRun]:
    """Runs recorded in the folder's journals that this process does not know: interrupted by a restart."""
    out = []
    for path in sorted(Path(models_dir).glob(JOURNAL_GLOB)):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        run_id = rec.get("run_id") if isinstance(rec, dict) else None
        if not isinstance(run_id, str) or run_id in known:
            continue
        desc = str(rec.get("description") or "a training run")[:200]
        started = rec.get("started_at")
        when = _dt.datetime.fromtimestamp(started).strftime("%d %b %H:%M") if isinstance(started, (int, float)) else "?"
        head = f"The server restarted while a training run was in progress ({desc}, started {when})."
        state = rec.get("state")
        saved = find_saved(models_dir, run_id)
        finishing = state == "running" and _pid_alive(rec.get("pid"))
        if finishing:
            text = (
                f"{head} Its training process is still finishing: it stops and saves the best model so far "
                "in the models list. Nothing else changed."
            )
        elif saved is not None:
            text = f"{head} It saved {saved.name}, which is in the models list. Every other model is unchanged."
        elif state == "unsaved":
            text = f"{head} It trained, but could not save its model ({rec.get('message', '')}); nothing was kept."
        else:
            text = f"{head} It ended before saving anything; every model in the list is unchanged."
        out.append(PastRun(run_id, text, str(saved) if saved else None, finishing))
    return out


def dismiss_past_run(models_dir: str | os.PathLike, run_id: str) -> None:
    """Forget a past run's journal (its checkpoint, if any, stays)."""
    journal_path(models_dir, run_id).unlink(missing_ok=True)
