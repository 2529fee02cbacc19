"""Fakes for the retrain GUI tests: a registry kept in memory, a retrain job
that yields epoch and log payloads without training anything (no TensorFlow,
no child process), and an outcome built from core.retraining's dataclasses."""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import retraining
from core.jobs import Cancelled, CancelToken, Progress
from core.models.registry import ModelVersion
from core.project_learning import CurvePoint

CLASSES = ["neutrophil", "lymphocyte", "monocyte"]


def version(name: str, status: str, parent: str | None = None, current: bool = False, metrics: dict | None = None):
    return ModelVersion(
        name=name, path=Path(f"/models/{name}.keras"), status=status, parent=parent,
        created_at="2026-12-01T12:00:00", trained_on={"neutrophil": 40, "lymphocyte": 30},
        metrics=metrics or {}, is_current=current,
    )


@dataclass
class FakeRegistry:
    """In memory; records what the GUI asked of it."""

    items: list = field(default_factory=list)
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    @classmethod
    def standard(cls) -> FakeRegistry:
        return cls([
            version("hemalabel-wbc", "bundled"),
            version("hemalabel-wbc-r1", "promoted", "hemalabel-wbc", current=True,
                    metrics={"accuracy": 0.91, "balanced_accuracy": 0.88}),
            version("hemalabel-wbc-r2", "candidate", "hemalabel-wbc-r1"),
        ])

    def versions(self) -> list:
        return [v for v in self.items if v.status != "discarded"]

    def current(self):
        return next((v for v in self.items if v.is_current), self.items[0])

    def get(self, name: str):
        for v in self.items:
            if v.name == name:
                return v
        raise retraining.RetrainError(f"no model {name}")

    def _make_current(self, name: str):
        for v in self.items:
            if v.is_current:
                v.is_current = False
                if v.status == "promoted":
                    v.status = "retired"
        chosen = self.get(name)
        chosen.is_current = True
        if chosen.status != "bundled":
            chosen.status = "promoted"
        return chosen

    def promote(self, name: str):
        self.calls.append(("promote", name))
        return self._make_current(name)

    def discard(self, name: str) -> None:
        self.calls.append(("discard", name))
        v = self.get(name)
        if v.is_current or v.status == "bundled":
            raise retraining.RetrainError(f"{name} is the current or bundled model")
        v.status = "discarded"

    def rollback(self):
        self.calls.append(("rollback", None))
        current = self.current()
        return self._make_current(current.parent or "hemalabel-wbc")

    def add(self, v) -> None:
        self.items.append(v)


def scores(model: str, accuracy: float, balanced: float, seed: int, fewer_errors: bool = False) -> Any:
    n = len(CLASSES)
    # Every row holds 14 cells, as both models are scored on the same ones; `seed` moves the errors.
    wrong = [[0 if i == j else ((i + j + seed) % 3) // (2 if fewer_errors else 1) for j in range(n)] for i in range(n)]
    confusion = [[(14 - sum(wrong[i]) if i == j else wrong[i][j]) for j in range(n)] for i in range(n)]
    recall = {c: round(confusion[i][i] / sum(confusion[i]), 3) for i, c in enumerate(CLASSES)}
    return retraining.ModelScores(model=model, cells=sum(map(sum, confusion)), accuracy=accuracy,
                                  balanced_accuracy=balanced, per_class_recall=recall,
                                  confusion=confusion, classes=list(CLASSES))


def outcome(candidate_name: str = "hemalabel-wbc-r2", epochs: int = 4) -> Any:
    comparison = retraining.Comparison(
        out_of_fold=(scores("hemalabel-wbc", 0.74, 0.71, 0), scores(candidate_name, 0.95, 0.93, 5, True)),
        standard=(scores("hemalabel-wbc", 0.80, 0.78, 1), scores(candidate_name, 0.86, 0.84, 3, True)),
        recommendation="Promote: balanced accuracy on the reviewed cells (out of fold) 0.71 -> 0.93",
        promote_advised=True,
        instant=scores("hemalabel-wbc+taught", 0.85, 0.82, 2),
    )
    return retraining.RetrainOutcome(
        candidate=version(candidate_name, "candidate", "hemalabel-wbc"),
        comparison=comparison, history=[epoch_row(e, epochs) for e in range(1, epochs + 1)],
        log="fine-tuning\ndone\n", seconds=12.0,
    )


def epoch_row(epoch: int, epochs: int) -> dict:
    return {"kind": "epoch", "epoch": epoch, "epochs": epochs, "loss": 1.5 / epoch, "accuracy": 0.97 - 0.45 / epoch,
            "val_loss": 1.7 / epoch, "val_accuracy": 0.93 - 0.5 / epoch, "seconds": 2.0 * epoch,
            "eta_seconds": 2.0 * (epochs - epoch)}


class FakeRetrain:
    """Stands in for backend.retrain: yields a phase, log lines and one
    epoch payload per epoch, then returns `result` (or raises `error`).
    With `hold=True` it waits after the first epoch until cancelled, so a
    test can press Cancel while it runs."""

    def __init__(self, result: Any = None, epochs: int = 4, hold: bool = False, error: Exception | None = None) -> None:
        self.result = result if result is not None else outcome(epochs=epochs)
        self.epochs = epochs
        self.hold = hold
        self.error = error
        self.calls: list[tuple[Path, Any]] = []
        self.terminated = False

    def __call__(self, project: Path, settings: Any, cancel: CancelToken,
                 image_roots: Any = None) -> Generator[Progress, None, Any]:
        self.calls.append((project, settings))
        return self._job(cancel)

    def _job(self, cancel: CancelToken) -> Generator[Progress, None, Any]:
        try:
            yield Progress(0, self.epochs, "reading 212 examples")
            yield Progress(0, self.epochs, "", {"kind": "log", "line": "child process started"})
            for epoch in range(1, self.epochs + 1):
                yield Progress(epoch, self.epochs, f"epoch {epoch}", epoch_row(epoch, self.epochs))
                yield Progress(epoch, self.epochs, "", {"kind": "log", "line": f"epoch {epoch} done"})
                while self.hold and not cancel.cancelled:
                    time.sleep(0.01)
                if cancel.cancelled:
                    raise Cancelled()
            if self.error is not None:
                raise self.error
            yield Progress(self.epochs, self.epochs, "evaluating")
            return self.result
        finally:
            # Where the real core terminates its child process.
            self.terminated = True


def fake_insights() -> Any:
    edges = [i * 255 / 32 for i in range(33)]
    def bump(centre: float, width: float) -> list[float]:
        # A smooth single-peaked histogram, like a stain's intensities, summing to 1.
        values = [math.exp(-(((b + 0.5) * 8 - centre) / width) ** 2) for b in range(32)]
        return [v / sum(values) for v in values]

    peaks = {"red": 190, "green": 140, "blue": 200, "gray": 160}
    hist = {c: {ch: bump(peak - 20 * i, 30 + 5 * i) for ch, peak in peaks.items()} for i, c in enumerate(CLASSES)}
    return retraining.Insights(class_counts={"neutrophil": 40, "lymphocyte": 30, "monocyte": 12},
                               histograms=hist, bin_edges=edges)


def fake_curve() -> list[CurvePoint]:
    return [CurvePoint(taught, 82 - taught, 0.6 + 0.004 * taught, 0.6) for taught in range(0, 73, 8)]
