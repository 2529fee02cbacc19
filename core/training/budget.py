"""Where a fit stands against its epochs and its wall-time budget: one rule
for every trainer, whose learning-rate schedules run on the larger of the two."""

from __future__ import annotations

import time


def epoch_progress(epoch: int, epochs: int, max_minutes: float, fit_started: float,
                   last_epoch_seconds: float | None) -> float | None:
    """The part of the schedule done when `epoch` (from 0) would start, or
    None when the fit should stop: its epochs or its time are spent, or the
    epoch would end more than half of itself past the budget.  A budget of
    0 minutes is no limit."""
    spent = 0.0
    late = False
    if max_minutes > 0:
        budget = max_minutes * 60.0
        elapsed = time.monotonic() - fit_started
        spent = elapsed / budget
        late = last_epoch_seconds is not None and (elapsed + 0.5 * last_epoch_seconds) / budget >= 1.0
    progress = max(epoch / epochs, spent)
    return None if progress >= 1.0 or late else progress
