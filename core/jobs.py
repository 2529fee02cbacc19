"""The contract of long work: a generator that yields Progress and honours a
CancelToken, returning its result through StopIteration.

The GUI runs such generators in its one worker helper; the command line runs
them with `run_job`.  Core never sees a widget: it sees a token and yields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a job when its token is cancelled."""


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    message: str = ""
    payload: Any = None  # a partial result the caller may show at once

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


class CancelToken:
    """A flag shared between the caller and a running job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


Job = Generator[Progress, None, T]


def run_job(job: Job[T], on_progress: Callable[[Progress], None] | None = None) -> T:
    """Drive a job to its end on this thread and return its result."""
    while True:
        try:
            progress = next(job)
        except StopIteration as finished:
            result: T = finished.value
            return result
        if on_progress is not None:
            on_progress(progress)
