"""A job's handle is a QObject: it must be destroyed on the GUI thread, never
by the pool thread that ran the job."""

from __future__ import annotations

import shiboken6

from app.gui.worker import start_call


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
