"""retrain_detector(): from a project's reviewed fields to a registered
detector candidate, the detector's side of the Retrain dialog and of
`hemalabel train-detector --project`.

The parent chooses the fields and splits them by slide into the fields the
fine-tune learns from and those both detectors are compared on; a spawned
child (detector_child) fine-tunes and scores, through the classifier
retrain's machinery: its staging folder, its child process and its messages,
so that a crash or a cancel leaves the detector in use as it was.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.detection.project_fields import ProjectFields, project_fields, split_fields
from core.image_roots import NO_IMAGE_ROOTS, ImageRoots
from core.jobs import CancelToken, Job, Progress
from core.models.detector_card import DetectorCard
from core.models.files import ModelCardError
from core.models.registry import ModelRegistry, ModelVersion, RegistryError, detector_registry
from core.models.resolver import resolve_detector_card
from core.retraining.detector_child import DetectorChildRequest, run_detector_child
from core.retraining.detector_scoring import DetectorComparison
from core.retraining.job import RetrainError, new_staging, register_staged, remove_stale_staging, run_in_child
from core.retraining.settings import DetectorRetrainSettings
from core.store import ProjectStore
from core.store.address import ProjectLocation


@dataclass(slots=True)
class DetectorRetrainOutcome:
    candidate: ModelVersion
    comparison: DetectorComparison
    history: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0
    train_fields: int = 0
    held_out_fields: int = 0
    replay_fields: int = 0


def retrain_detector(project: ProjectLocation, settings: DetectorRetrainSettings, cancel: CancelToken | None = None,
                     registry: ModelRegistry | None = None, *,
                     image_roots: ImageRoots = NO_IMAGE_ROOTS) -> Job[DetectorRetrainOutcome]:
    cancel = cancel or CancelToken()
    registry = registry or detector_registry()
    started = time.monotonic()
    try:
        settings.check()
    except ValueError as error:
        raise RetrainError(f"detector fine-tune settings: {error}") from None
    replay_root = _replay_root(settings)
    remove_stale_staging(registry.folder)
    yield Progress(0, 1, "choosing the reviewed fields")
    base_card, base_name = _base_detector(settings, registry)
    with ProjectStore.open(project, read_only=True) as store:
        store.image_roots = image_roots  # the user's mapping of the project's image folders
        found = project_fields(store)
    _check_enough(found, settings, project)
    train, held_out = split_fields(found.fields, settings.held_out_share, settings.seed)
    name = registry.next_name(base_name)
    staging, owner = new_staging(registry.folder, name)
    request = DetectorChildRequest(
        base_card=str(base_card), base_name=base_name, name=name, out_dir=str(staging), train=train,
        held_out=held_out, settings={**settings.to_dict(), "replay_root": replay_root},
    )
    yield Progress(0, settings.epochs, f"fine-tuning {base_name} on {len(train)} reviewed fields, comparing on "
                   f"{len(held_out)} held out (box corrections: {_corrections_text(found)})")
    log_lines: list[str] = []
    try:
        done = yield from run_in_child(run_detector_child, request, cancel, log_lines, settings.epochs)
        comparison = DetectorComparison.from_dict(done["comparison"])
        candidate = register_staged(registry, staging, name, base_name, done, comparison.to_dict(),
                                    time.monotonic() - started)
    finally:
        owner.close()  # before the removal: Windows cannot delete an open file
        shutil.rmtree(staging, ignore_errors=True)
    outcome = DetectorRetrainOutcome(candidate, comparison, done["history"], "\n".join(log_lines),
                                     time.monotonic() - started, len(train), len(held_out), int(done["replay_fields"]))
    yield Progress(settings.epochs, settings.epochs, f"candidate {name}: {comparison.recommendation}")
    return outcome


def _replay_root(settings: DetectorRetrainSettings) -> str | None:
    """The original data's folder: the one named (which must be there), else
    the one beside the app when it is there, else None (no replay)."""
    from core.detection.replay_fields import default_replay_root

    if settings.replay_fields == 0 and settings.check_fields == 0:
        return None
    if settings.replay_root:
        if not Path(settings.replay_root).is_dir():
            raise RetrainError(f"replay data: {settings.replay_root}: not found")
        return str(settings.replay_root)
    found = default_replay_root()
    return None if found is None else str(found)


def _base_detector(settings: DetectorRetrainSettings, registry: ModelRegistry) -> tuple[Path, str]:
    """The card to fine-tune and its name in the registry: the one named,
    else the detector in use."""
    try:
        current = registry.current() if settings.base is None else None
        card = resolve_detector_card(settings.base)
        loaded = DetectorCard.load(card)  # refused here, named, rather than in the child
    except (ModelCardError, RegistryError) as error:
        raise RetrainError(f"the detector to fine-tune: {error}") from None
    return card, current.name if current is not None and current.status != "bundled" else loaded.name


def _check_enough(found: ProjectFields, settings: DetectorRetrainSettings, project: ProjectLocation) -> None:
    if len(found.fields) < settings.min_fields:
        raise RetrainError(
            f"{project}: {len(found.fields)} reviewed fields of {found.slides_in_project}; a detector fine-tune "
            f"needs at least {settings.min_fields} (slides signed off, or where boxes were drawn, deleted, moved "
            "or re-kinded), some to learn from and some to compare on. Review more fields first."
        )


def _corrections_text(found: ProjectFields) -> str:
    parts = [f"{count} {action}" for action, count in sorted(found.box_corrections.items())]
    return ", ".join(parts) or "none, the fields are signed off"
