"""The detector's training batches are built on a helper thread: an error
there reaches the training loop instead of leaving it waiting for a batch."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from core.detection import training


def prepared(count: int) -> list[Any]:
    return [
        training._Prepared(np.zeros((64, 64, 3), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                           (1.0, 1.0, 1.0))
        for _ in range(count)
    ]


def test_an_augmentation_error_reaches_the_training_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> Any:
        raise ValueError("a field the augmentation cannot take")

    monkeypatch.setattr(training, "augmented_sample", broken)
    config = training.DetectorTrainingConfig(batch_size=2)
    batches = training._batches(prepared(4), config, np.random.default_rng(0), threading.Event())
    outcome: dict[str, BaseException] = {}

    def consume() -> None:
        try:
            list(batches)
        except ValueError as error:
            outcome["error"] = error

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "the training loop still waits for a batch"
    assert "cannot take" in str(outcome["error"])
