"""A job's handle is a QObject: it must be destroyed on the GUI thread, never
by the pool thread that ran the job."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest
import shiboken6
from PySide6.QtCore import QThreadPool

from app.gui.worker import JOB_STACK_BYTES, start_call


def test_a_handle_without_a_parent_is_deleted_on_the_gui_thread_once_finished(qtbot) -> None:  # noqa: ANN001
    results: list[int] = []
    handle = start_call("Adding", lambda: 1 + 1, None, on_result=results.append)
    # Asked before the event loop runs: the deletion waits for it.
    assert handle.parent() is not None  # owned on the GUI thread, not by Python alone
    qtbot.waitUntil(lambda: results == [2], timeout=5000)
    # Deleted by the GUI thread's event loop: the pool thread only ever drops a
    # wrapper whose object is gone or owned elsewhere.
    qtbot.waitUntil(lambda: not shiboken6.isValid(handle), timeout=5000)
    assert not handle.running  # what callers ask of a finished handle still answers


def _stack_bytes_of_this_thread() -> int:
    """The stack size pthreads gave the calling thread (Linux)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.pthread_self.restype = ctypes.c_ulong
    libc.pthread_getattr_np.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
    attr = ctypes.create_string_buffer(128)  # pthread_attr_t is 56 bytes on x86-64
    address, size = ctypes.c_void_p(), ctypes.c_size_t()
    assert libc.pthread_getattr_np(libc.pthread_self(), attr) == 0
    libc.pthread_attr_getstack(attr, ctypes.byref(address), ctypes.byref(size))
    libc.pthread_attr_destroy(attr)
    return size.value


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the stack through glibc")
def test_jobs_run_on_threads_with_a_deep_stack(qtbot) -> None:  # noqa: ANN001
    results: list[int] = []
    start_call("Measuring", _stack_bytes_of_this_thread, None, on_result=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    # Asked of the pool, not left to the platform (Linux's default happens
    # to be as deep; macOS's is 512 KiB).
    assert QThreadPool.globalInstance().stackSize() == JOB_STACK_BYTES
    assert results[0] >= JOB_STACK_BYTES
