"""Runs a core job (a generator yielding Progress) on the global QThreadPool
and turns its progress, result, error and cancellation into Qt signals.

A small local runner for the import and export dialogs; the main window's
worker helper will replace it.  Errors arrive as the exception object, so a
dialog can tell an expected refusal (unknown classes) from a failure without
a try/except of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.jobs import CancelToken, Cancelled, Job, Progress

log = logging.getLogger(__name__)


class JobSignals(QObject):
    progress = Signal(object)  # Progress
    finished = Signal(object)  # the job's result
    failed = Signal(object)  # the exception
    cancelled = Signal()


class JobRunner(QRunnable):
    """`make_job(token)` is called on the worker thread and must return the
    generator; the token is cancelled through `cancel()`."""

    def __init__(self, make_job: Callable[[CancelToken], Job[Any]]) -> None:
        super().__init__()
        # The pool deletes the runnable once run() has returned; callers keep
        # `signals` and `token`, never the runner, so nothing deletes it while
        # its thread is still unwinding.
        self.make_job = make_job
        self.token = CancelToken()
        self.signals = JobSignals()

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        try:
            job = self.make_job(self.token)
            while True:
                try:
                    progress = next(job)
                except StopIteration as finished:
                    result = finished.value
                    break
                if isinstance(progress, Progress):
                    self.signals.progress.emit(progress)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as error:  # every failure must reach the dialog, not vanish in the pool
            log.exception("job failed")
            self.signals.failed.emit(error)
        else:
            self.signals.finished.emit(result)

    def start(self, pool: QThreadPool | None = None) -> None:
        (pool or QThreadPool.globalInstance()).start(self)
