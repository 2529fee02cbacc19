"""The correction queue seen as training data.

Every human decision in a project leaves its cell with a final box and a
final label; those cells (confirmed, relabelled, drawn or moved by a person,
or imported with a label) are the training examples.  Model guesses nobody
looked at are not.  "New" means decided after the current model was made,
which is what the queue view counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from core.models.classifier_card import card_path_for, read_card
from core.models.files import ModelCardError
from core.models.registry import ModelRegistry
from core.project_learning import SAME_CELL_IOU
from core.schema import CellKind
from core.store import ProjectStore
from core.taxonomy import UNIDENTIFIED
from core.training.samples import LabelledCell, file_digest, from_store, is_training_cell

# The classifier sees white cells and platelets (its eight PBC classes
# include platelet); red cells are the detector's business.
CLASSIFIED_KINDS = (CellKind.WHITE, CellKind.PLATELET)


@dataclass(slots=True)
class QueueSummary:
    model: str
    model_created_at: str
    examples_per_class: dict[str, int] = field(default_factory=dict)
    new_per_class: dict[str, int] = field(default_factory=dict)
    slides: list[tuple[str, int]] = field(default_factory=list)
    new_classes: dict[str, int] = field(default_factory=dict)
    total_examples: int = 0
    total_new: int = 0


def candidate_classes(store: ProjectStore, model_classes: list[str]) -> list[str]:
    """The model's classes, then every other taxonomy class a person could
    label (Unidentified is a verdict, not a class to learn)."""
    extra = [name for name in store.taxonomy.names if name not in model_classes and name != UNIDENTIFIED]
    return [*model_classes, *extra]


def training_examples(store: ProjectStore, classes: list[str]) -> list[LabelledCell]:
    """Every human-decided cell whose final label is one of `classes`, as a
    labelled crop of its final box.  Each sample's group is its slide, so a
    split never puts cells of one slide on both sides."""
    return from_store(store, classes, kinds=CLASSIFIED_KINDS, group_by_slide=True)


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None


def queue_summary(store: ProjectStore, registry: ModelRegistry | None = None) -> QueueSummary:
    """What a retrain would learn from, against the model now in use."""
    registry = registry or ModelRegistry()
    current = registry.current()
    try:
        card = read_card(card_path_for(current.path))
        model_classes, created = list(card.classes), card.created_at
    except ModelCardError:
        model_classes, created = [], current.created_at
    classes = candidate_classes(store, model_classes)
    since = _parse_time(created)
    decided_after: set[int] = set()
    for correction in store.corrections():
        at = _parse_time(correction.at)
        if since is None or (at is not None and at > since):
            decided_after.add(correction.cell_id)
    summary = QueueSummary(model=current.name, model_created_at=created)
    examples: Counter[str] = Counter()
    new: Counter[str] = Counter()
    new_by_slide: Counter[str] = Counter()
    slides = {slide.id: slide.path for slide in store.slides()}
    wanted, kinds = set(classes), set(CLASSIFIED_KINDS)
    for cell in store.cells():
        if cell.label is None or not is_training_cell(cell, wanted, kinds):
            continue
        examples[cell.label] += 1
        if cell.id in decided_after:
            new[cell.label] += 1
            new_by_slide[slides[cell.slide_id]] += 1
    summary.examples_per_class = {name: examples[name] for name in classes if examples[name]}
    summary.new_per_class = {name: new[name] for name in classes if new[name]}
    summary.slides = sorted(new_by_slide.items())
    summary.new_classes = {name: examples[name] for name in classes if name not in model_classes}
    summary.total_examples = sum(examples.values())
    summary.total_new = sum(new.values())
    return summary




def drop_contradictions(examples: list[LabelledCell]) -> tuple[list[LabelledCell], list[str]]:
    """The examples less every cell labelled two ways: the same cell (a box
    on the same image, or on a byte-identical copy of it) given different
    classes teaches nothing but doubt.  Returns the kept examples and one
    line per contradiction, naming the image and the classes."""
    by_image: dict[str, list[int]] = {}
    digests: dict[Path, str] = {}
    for index, example in enumerate(examples):
        if example.path not in digests:
            try:
                digests[example.path] = file_digest(example.path)
            except OSError:
                digests[example.path] = str(example.path)  # unreadable: the loader will say so
        by_image.setdefault(digests[example.path], []).append(index)
    dropped: set[int] = set()
    lines: list[str] = []
    for members in by_image.values():
        for position, i in enumerate(members):
            same = [j for j in members[position + 1:] if _same_cell(examples[i], examples[j])]
            labels = {examples[k].label for k in [i, *same]}
            if len(labels) > 1 and i not in dropped:
                dropped.update([i, *same])
                lines.append(f"{examples[i].path.name}: one cell labelled {' and '.join(sorted(labels))}")
    return [e for index, e in enumerate(examples) if index not in dropped], lines


def _same_cell(a: LabelledCell, b: LabelledCell) -> bool:
    if a.box is None or b.box is None:
        return a.box is None and b.box is None  # two whole-image crops of one image
    return a.box.iou(b.box) >= SAME_CELL_IOU
