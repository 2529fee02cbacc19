"""The parent of a training child never waits for ever on what the child
writes: a child that dies, even halfway through a message, ends in a
RetrainError naming its exit code."""

from __future__ import annotations

import os
import struct
import threading
from multiprocessing.connection import Connection
from typing import Any

import pytest

from core.jobs import CancelToken
from core.retraining import job as retrain_job
from core.retraining.job import RetrainError

pytestmark = pytest.mark.slow  # spawns Python processes


def dies_halfway_through_a_message(_request: Any, messages: Connection) -> None:
    messages.send(("log", "starting"))
    # A length prefix promising a megabyte, ten bytes of it, then death.
    os.write(messages.fileno(), struct.pack("!i", 1_000_000) + b"x" * 10)
    os._exit(3)


def dies_without_a_word(_request: Any, _messages: Connection) -> None:
    os._exit(4)


def finishes(_request: Any, messages: Connection) -> None:
    messages.send(("epoch", {"epoch": 1, "epochs": 1, "loss": 0.5, "eta_seconds": 0.0}))
    messages.send(("done", {"history": [1]}))


def run_parent(monkeypatch: pytest.MonkeyPatch, target: Any) -> tuple[list[Any], BaseException | None, Any]:
    """Drive run_in_child on a thread, so that a parent that hangs fails the
    test instead of stopping the suite."""
    progress: list[Any] = []
    outcome: dict[str, Any] = {"error": None, "value": None}

    def drive() -> None:
        steps = retrain_job.run_in_child(target, None, CancelToken(), [], 1)
        try:
            while True:
                progress.append(next(steps))
        except StopIteration as stop:
            outcome["value"] = stop.value
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the parent is still waiting on a child that has died"
    return progress, outcome["error"], outcome["value"]


def test_a_child_dead_halfway_through_a_message_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    progress, error, _ = run_parent(monkeypatch, dies_halfway_through_a_message)
    assert [p.message for p in progress] == ["starting"]
    assert isinstance(error, RetrainError) and "exit code 3" in str(error) and "starting" in str(error)


def test_a_child_dead_before_its_first_message_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _, error, _ = run_parent(monkeypatch, dies_without_a_word)
    assert isinstance(error, RetrainError) and "exit code 4" in str(error)


def test_a_child_that_finishes_hands_back_its_result(monkeypatch: pytest.MonkeyPatch) -> None:
    progress, error, value = run_parent(monkeypatch, finishes)
    assert error is None and value == {"history": [1]}
    assert progress[0].done == 1 and progress[0].payload["kind"] == "epoch"
