"""The truncation curves computed in the background, for the app: a daemon thread, progress behind a lock.

(`truncation_curves` shares the batches out to worker threads of one torch thread each.)
No streamlit here (lstmviz.ui.truncation keeps one job per model and test set and polls it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..background import BackgroundJob
from ..data import Split
from .cache import cached_truncation
from .result import MODES, TruncationResult

if TYPE_CHECKING:
    from .cache import Source


class TruncationJob(BackgroundJob[TruncationResult]):
    """cached_truncation in the background (no streamlit)."""

    def __init__(self, source: Source, split: Split, modes: Sequence[str] = MODES) -> None:
        modes = tuple(modes)
        super().__init__(
            lambda progress: cached_truncation(source, split, modes, progress=progress), "lstmviz-truncation"
        )
