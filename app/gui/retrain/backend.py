"""The core calls the retrain GUI makes, in one module.  Why a module of its
own: the dialogs call `backend.retrain(...)`, `backend.queue_summary(...)`,
`backend.registry()`, so a test replaces exactly these (monkeypatch) with a
fake job or registry, and nothing else in the GUI knows where they live."""

from __future__ import annotations

from pathlib import Path

from core.jobs import CancelToken, Job
from core.retraining import (
    Insights,
    ModelRegistry,
    QueueSummary,
    RetrainOutcome,
    RetrainSettings,
    dataset_insights,
    queue_summary,
)
from core.retraining import retrain as _core_retrain
from core.store import ProjectStore


def registry() -> ModelRegistry:
    """The user's model registry (HEMALABEL_MODELS_DIR or the data folder)."""
    return ModelRegistry()


def summary(store: ProjectStore) -> QueueSummary:
    return queue_summary(store, registry())


def insights(store: ProjectStore) -> Insights:
    """With the classifier in use, so the tab draws what the project taught it."""
    from app.gui import model_provider

    try:
        classifier = model_provider.default_classifier()
    except model_provider.ModelUnavailable:
        classifier = None  # the counts and histograms still help; the curve needs the network
    return dataset_insights(store, classifier=classifier)


def retrain(project: Path, settings: RetrainSettings, cancel: CancelToken) -> Job[RetrainOutcome]:
    """The fine-tune job; core runs the training in a spawned child process."""
    return _core_retrain(project, settings, cancel, registry())
