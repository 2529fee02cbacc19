"""A fine-tune reads a project's images through the user's image roots,
as every other view does: the classifier's and the detector's jobs open
the project themselves, so the roots travel with the request."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.image_roots import ImageRoots, as_slashed
from core.models.registry import ModelRegistry
from core.retraining import RetrainError, RetrainSettings, detector_job, job
from core.retraining.settings import DetectorRetrainSettings
from core.store import ProjectStore
from tests.core.images import write_image


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Path, ImageRoots]:
    share = tmp_path / "mnt" / "scans"
    project = tmp_path / "p.hemalabel"
    with ProjectStore.create(project) as store:
        store.add_slide(write_image(share / "a.png"), 64, 48)
    shutil.move(share, tmp_path / "new")
    return project, ImageRoots.of({as_slashed(share): as_slashed(tmp_path / "new")})


def _seen_images(monkeypatch: pytest.MonkeyPatch, module, name: str) -> list[bool]:
    """Replace the job's first look at the project with one that records
    whether each slide's image is found, then stops the job."""
    found: list[bool] = []

    def look(store, *args):
        found.extend(store.image_path(slide).is_file() for slide in store.slides())
        raise RetrainError("stopped by the test")

    monkeypatch.setattr(module, name, look)
    return found


def test_the_classifier_fine_tune_finds_images_through_the_roots(moved, tmp_path, monkeypatch) -> None:
    project, roots = moved
    card = SimpleNamespace(classes=["Neutrophil"])
    monkeypatch.setattr(job, "_base_model", lambda *args: (tmp_path / "base.keras", "base", card))
    monkeypatch.setattr(job, "_check_paths", lambda settings: None)
    found = _seen_images(monkeypatch, job, "candidate_classes")
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(RetrainError):
        list(job.retrain(project, RetrainSettings(), registry=registry, image_roots=roots))
    with pytest.raises(RetrainError):
        list(job.retrain(project, RetrainSettings(), registry=registry))
    assert found == [True, False]


def test_the_detector_fine_tune_finds_images_through_the_roots(moved, tmp_path, monkeypatch) -> None:
    project, roots = moved
    monkeypatch.setattr(detector_job, "_base_detector", lambda *args: (tmp_path / "card.json", "base"))
    found = _seen_images(monkeypatch, detector_job, "project_fields")
    registry = ModelRegistry(tmp_path / "models")
    with pytest.raises(RetrainError):
        list(detector_job.retrain_detector(project, DetectorRetrainSettings(), registry=registry, image_roots=roots))
    assert found == [True]
