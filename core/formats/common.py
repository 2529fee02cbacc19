"""What every format reader produces, and the checks they share."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.schema import Box, CellKind
from core.taxonomy import Taxonomy


class AnnotationError(ValueError):
    """A malformed annotation file: names the file and the line or element."""

    def __init__(self, path: str | os.PathLike[str], where: str, reason: str) -> None:
        location = f"{path}:{where}" if where else str(path)
        super().__init__(f"{location}: {reason}")
        self.path = Path(path)
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LabelledBox:
    box: Box
    kind: CellKind
    label: str | None = None


@dataclass(slots=True)
class AnnotatedImage:
    """One image and the boxes an annotation gives it.  `size` is the image
    size the annotation states, if it states one."""

    path: Path
    boxes: list[LabelledBox] = field(default_factory=list)
    size: tuple[int, int] | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ImportPlan:
    images: list[AnnotatedImage]
    format: str
    warnings: list[str] = field(default_factory=list)


# Names annotation files use for the three kinds of cell.
_KIND_NAMES = {
    "wbc": CellKind.WHITE,
    "white": CellKind.WHITE,
    "white cell": CellKind.WHITE,
    "white_cell": CellKind.WHITE,
    "leukocyte": CellKind.WHITE,
    "rbc": CellKind.RED,
    "red": CellKind.RED,
    "red cell": CellKind.RED,
    "red_cell": CellKind.RED,
    "erythrocyte": CellKind.RED,
    "platelets": CellKind.PLATELET,
    "platelet": CellKind.PLATELET,
    "plt": CellKind.PLATELET,
    "thrombocyte": CellKind.PLATELET,
}


def kind_and_label(name: str, taxonomy: Taxonomy) -> tuple[CellKind, str | None] | None:
    """Map an annotation's class name to a cell kind and, where the name is a
    taxonomy class, a label.  None when the name means nothing to us."""
    key = name.strip().lower()
    if key in _KIND_NAMES:
        kind = _KIND_NAMES[key]
        return kind, ("platelet" if kind is CellKind.PLATELET and "platelet" in taxonomy else None)
    label = taxonomy.match(key)
    if label is None:
        return None
    group = taxonomy.get(label).group
    kind = {"red": CellKind.RED, "platelet": CellKind.PLATELET}.get(group, CellKind.WHITE)
    return kind, label


def resolve_inside(root: Path, name: str, annotation: Path, where: str) -> Path:
    """The file an annotation names, refused if it lies outside `root`: an
    annotation must never make us read (or later write) elsewhere."""
    if not name.strip():
        raise AnnotationError(annotation, where, "names no image file")
    candidate = Path(name.replace("\\", "/"))
    if candidate.is_absolute() or ".." in candidate.parts:
        raise AnnotationError(annotation, where, f"image {name!r} lies outside the imported folder; refused")
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise AnnotationError(annotation, where, f"image {name!r} lies outside the imported folder; refused")
    return resolved
