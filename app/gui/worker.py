"""The one worker helper: runs a core generator job on the thread pool and
turns what it yields, returns and raises into Qt signals.

Core jobs are generators that yield `Progress` and honour a `CancelToken`
(core/jobs.py).  `start_job` takes a function that builds such a generator
from a token, runs it on a pool thread and emits:

    progress(Progress)  for every yield, in order
    result(object)      the generator's return value
    error(str, object)  a one-line message and the exception (never both result and error)
    cancelled()         when the token stopped the job
    finished()          always, last

The signals live on a QObject owned by the GUI thread, so connected slots
run on the GUI thread: the GUI never waits on I/O or TensorFlow.  Every
running job is registered here so that a test can fail when one is left
running, and so that closing the window can cancel and wait for them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.jobs import Cancelled, CancelToken, Progress

log = logging.getLogger(__name__)

JobFactory = Callable[[CancelToken], Generator[Progress, None, Any]]

_active: set[JobHandle] = set()
_active_lock = threading.Lock()


class JobHandle(QObject):
    """A running job as the GUI sees it: its signals and its Cancel."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(str, object)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.done = threading.Event()
        self.finished.connect(self._forget)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def running(self) -> bool:
        return not self.done.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the job's thread has finished (for shutdown and tests)."""
        return self.done.wait(timeout_s)

    def _forget(self) -> None:  # on the GUI thread, after the job's last signal
        with _active_lock:
            _active.discard(self)
        if self.parent() is _owner():
            self.deleteLater()


class _JobRunnable(QRunnable):
    def __init__(self, handle: JobHandle, factory: JobFactory) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._handle = handle
        self._factory = factory

    def run(self) -> None:  # on a pool thread
        handle = self._handle
        try:
            generator = self._factory(handle.token)
            while True:
                try:
                    item = next(generator)
                except StopIteration as stop:
                    handle.result.emit(stop.value)
                    break
                handle.progress.emit(item)
                # A job that yields between slow steps notices Cancel here even
                # if it never checks its token itself.
                if handle.token.cancelled:
                    generator.close()
                    raise Cancelled()
        except Cancelled:
            handle.cancelled.emit()
        except Exception as exc:  # routed to the GUI, which shows it; never lost
            log.error("job %s failed:\n%s", handle.name, traceback.format_exc())
            handle.error.emit(f"{handle.name}: {exc}", exc)
        finally:
            handle.done.set()
            # Its owner may have gone on the result (a dialog that closes once
            # its report is written, deleting the handle with it): then no one
            # is left to tell.
            with contextlib.suppress(RuntimeError):
                handle.finished.emit()


# Qt sizes the global pool to the core count: two threads on a 2-core
# laptop, so a retrain (minutes, mostly waiting on its child process) plus
# one other job would leave the slide images nothing to load on.  Our jobs
# wait on disk, TensorFlow or a child process, which release the GIL, so a
# few more threads than cores keep the window fed.
MIN_POOL_THREADS = 8
# A pool thread gets the platform's default stack unless told: 512 KiB on
# macOS, where CPython gives its own threads 16 MiB.  TensorFlow's calls
# and Keras's nested layers run deep on these threads, so every platform
# gets the 8 MiB that Linux gives by default.
JOB_STACK_BYTES = 8 * 1024 * 1024


def _pool() -> QThreadPool:
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_POOL_THREADS:
        pool.setMaxThreadCount(MIN_POOL_THREADS)
    if pool.stackSize() < JOB_STACK_BYTES:
        pool.setStackSize(JOB_STACK_BYTES)  # for threads started from now on
    return pool


_orphans: list[QObject] = []


def _owner() -> QObject:
    """The GUI-thread parent of handles started without one.  A handle owned
    by Python alone is destroyed by whichever thread drops it last, perhaps
    the pool thread; a QObject destroyed there waits for the interpreter
    inside Qt's lock while the GUI thread, holding the interpreter, waits for
    that lock (a frozen test run showed exactly this).  Owned here, a handle
    is deleted on the GUI thread once its job has finished."""
    if not _orphans:
        _orphans.append(QObject())
    return _orphans[0]


def start_job(
    name: str,
    factory: JobFactory,
    parent: QObject | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[str, Any], None] | None = None,  # the message and the exception
    on_cancelled: Callable[[], None] | None = None,
    on_finished: Callable[[], None] | None = None,
) -> JobHandle:
    """Run `factory(token)` (a generator) in the background.

    The slots are connected before the job starts: a queued signal reaches
    only the slots connected when it was emitted, and a fast job can emit
    before the caller's next line runs.  Pass bound methods of GUI-thread
    QObjects so Qt runs them on the GUI thread."""
    handle = JobHandle(name, parent if parent is not None else _owner())
    for signal, slot in (
        (handle.progress, on_progress),
        (handle.result, on_result),
        (handle.error, on_error),
        (handle.cancelled, on_cancelled),
        (handle.finished, on_finished),
    ):
        if slot is not None:
            signal.connect(slot)
    with _active_lock:
        _active.add(handle)
    _pool().start(_JobRunnable(handle, factory))
    return handle


def start_call(name: str, function: Callable[[], Any], parent: QObject | None = None, **slots: Any) -> JobHandle:
    """Run a plain function in the background through the same helper."""

    def as_job(_token: CancelToken) -> Generator[Progress, None, Any]:
        return function()
        yield  # pragma: no cover - makes this a generator

    return start_job(name, as_job, parent, **slots)


def active_jobs() -> list[JobHandle]:
    """Jobs whose thread has not finished yet."""
    with _active_lock:
        return [handle for handle in _active if handle.running]


def cancel_all_and_wait(timeout_s: float = 10.0) -> bool:
    """Cancel every running job and wait for their threads; True when all stopped."""
    jobs = active_jobs()
    for handle in jobs:
        handle.cancel()
    ok = all(handle.wait(timeout_s) for handle in jobs)
    return _pool().waitForDone(int(timeout_s * 1000)) and ok
