"""The core calls the retrain GUI makes, in one module.  Why a module of its
own: the dialogs call `backend.retrain(...)`, `backend.queue_summary(...)`,
`backend.registry()`, so a test replaces exactly these (monkeypatch) with a
fake job or registry, and nothing else in the GUI knows where they live."""

from __future__ import annotations

from core.detection.project_fields import ProjectFields, project_fields
from core.image_roots import NO_IMAGE_ROOTS, ImageRoots
from core.jobs import CancelToken, Job
from core.models.registry import ModelRegistry, detector_registry
from core.project_learning import CurvePoint, project_learning_curve
from core.retraining import (
    Insights,
    QueueSummary,
    RetrainOutcome,
    RetrainSettings,
    dataset_insights,
    queue_summary,
)
from core.retraining import retrain as _core_retrain
from core.retraining.detector_job import DetectorRetrainOutcome
from core.retraining.detector_job import retrain_detector as _core_retrain_detector
from core.retraining.settings import DetectorRetrainSettings
from core.store import ProjectStore
from core.store.address import ProjectLocation


def registry(kind: str = "classifier") -> ModelRegistry:
    """The user's registry of the classifier's or the detector's versions
    (HEMALABEL_MODELS_DIR or the data folder)."""
    return detector_registry() if kind == "detector" else ModelRegistry()


def summary(store: ProjectStore) -> QueueSummary:
    return queue_summary(store, registry())


def detector_fields(store: ProjectStore) -> ProjectFields:
    """The reviewed fields a detector fine-tune would learn from."""
    return project_fields(store)


def insights(store: ProjectStore) -> Insights:
    return dataset_insights(store)


def learning_curve(store: ProjectStore, cancel: CancelToken) -> list[CurvePoint]:
    """What the project's decisions taught the classifier in use; none when
    it cannot load or is a stand-in without a network.  Cancel stops it
    between slides (closing the dialog must not wait for every cell)."""
    from app.gui import model_provider

    try:
        classifier = model_provider.default_classifier()
    except model_provider.ModelUnavailable:
        return []
    if not hasattr(classifier, "keras_model"):
        return []
    return project_learning_curve(store, classifier, lambda: cancel.cancelled)


def retrain(project: ProjectLocation, settings: RetrainSettings, cancel: CancelToken,
            image_roots: ImageRoots = NO_IMAGE_ROOTS) -> Job[RetrainOutcome]:
    """The fine-tune job; core runs the training in a spawned child process."""
    return _core_retrain(project, settings, cancel, registry(), image_roots=image_roots)


def retrain_detector(project: ProjectLocation, settings: DetectorRetrainSettings, cancel: CancelToken,
                     image_roots: ImageRoots = NO_IMAGE_ROOTS) -> Job[DetectorRetrainOutcome]:
    """The detector's fine-tune job; core runs it in a spawned child process."""
    return _core_retrain_detector(project, settings, cancel, registry("detector"), image_roots=image_roots)
