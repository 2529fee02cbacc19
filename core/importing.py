"""Importing a source (a folder of images or annotated data) into a project.

An import reads and checks everything first (a malformed annotation rejects
the whole import before the project is touched), then writes in a single
transaction: it is applied whole or not at all.  Images are referenced where
they are, never copied or modified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from core.formats import bccd_subtypes, folder, voc, yolo
from core.formats.common import AnnotatedImage, AnnotationError, ImportPlan
from core.imaging import ImageReadError, probe_image
from core.jobs import CancelToken, Job, Progress
from core.schema import Box, Cell, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.taxonomy import Taxonomy

FORMATS = ("auto", "folder", "voc", "yolo")

# Boxes that differ by less than this (in pixels, per side) are the same box:
# re-importing a source must not duplicate its cells.
_SAME_BOX_TOLERANCE = 0.5


class ImportSourceError(ValueError):
    """A source that cannot be imported at all (missing, unknown format)."""


@dataclass(slots=True)
class ImportReport:
    format: str
    source: str
    slides_added: int = 0
    slides_existing: int = 0
    cells_added: int = 0
    cells_duplicate: int = 0
    white_cell_types: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "source": self.source,
            "slides_added": self.slides_added,
            "slides_existing": self.slides_existing,
            "cells_added": self.cells_added,
            "cells_duplicate": self.cells_duplicate,
            "white_cell_types": self.white_cell_types,
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
            "warnings": self.warnings,
        }


def detect_format(source: Path) -> str:
    if voc.looks_like_voc(source):
        return "voc"
    if yolo.looks_like_yolo(source):
        return "yolo"
    return "folder"




def read_source(source: Path, fmt: str, taxonomy: Taxonomy, split: str | None = None) -> ImportPlan:
    """Parse and check a whole source; raises AnnotationError naming the
    file and line or element of the first problem."""
    if fmt == "folder":
        return folder.read_folder(source)
    if fmt == "voc":
        plan = voc.read_voc(source, taxonomy)
        if split is not None:
            plan.images = [image for image in plan.images if image.attributes.get("split") == split]
        subtypes_file = source / bccd_subtypes.FILE_NAME
        if subtypes_file.is_file():
            subtypes = bccd_subtypes.read_subtypes(subtypes_file)
            bccd_subtypes.apply_subtypes(plan, subtypes, taxonomy, subtypes_file)
        return plan
    if fmt == "yolo":
        return yolo.read_yolo(source, taxonomy, split)
    raise ImportSourceError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")


def import_source(
    store: ProjectStore,
    source: str | os.PathLike[str],
    fmt: str = "auto",
    split: str | None = None,
    cancel: CancelToken | None = None,
) -> Job[ImportReport]:
    """Import `source` into `store`, yielding progress while images are checked."""
    cancel = cancel or CancelToken()
    root = Path(source).resolve()
    if not root.is_dir():
        raise ImportSourceError(f"{source}: not a folder")
    chosen = detect_format(root) if fmt == "auto" else fmt
    plan = read_source(root, chosen, store.taxonomy, split)
    report = ImportReport(format=chosen, source=str(root), warnings=list(plan.warnings))

    readable = []
    total = len(plan.images)
    for index, image in enumerate(plan.images, start=1):
        cancel.raise_if_cancelled()
        try:
            info = probe_image(image.path)
        except ImageReadError as error:
            report.skipped.append((str(image.path), error.reason))
        else:
            readable.append((image, info.width, info.height))
        if index % 8 == 0 or index == total:
            yield Progress(index, total, f"checked {index} of {total} images")

    cancel.raise_if_cancelled()
    with store.edit(f"Import {root.name}", record_history=False):
        for image, width, height in readable:
            _write_image(store, image, width, height, report)
    return report


def _write_image(store: ProjectStore, image: AnnotatedImage, width: int, height: int, report: ImportReport) -> None:
    slide = store.slide_by_path(image.path)
    if slide is None:
        slide = store.add_slide(image.path, width, height, attributes=dict(image.attributes))
        report.slides_added += 1
        existing: list[Cell] = []
    else:
        report.slides_existing += 1
        existing = store.cells(slide.id)
    new_cells = []
    for labelled in image.boxes:
        box = labelled.box.clipped(width, height)
        if box != labelled.box:
            if box.is_empty():
                report.warnings.append(f"{image.path}: box {labelled.box.as_tuple()} lies outside the image; skipped")
                continue
            report.warnings.append(f"{image.path}: box {labelled.box.as_tuple()} clipped to the image")
        elif box.is_empty():
            # A zero-size box inside the image still marks a cell: keep it so the
            # annotation's counts hold and a technician can fix it in review.
            report.warnings.append(f"{image.path}: box {box.as_tuple()} has zero size; kept for review")
        if any(_same_cell(box, labelled.kind, cell) for cell in existing):
            report.cells_duplicate += 1
            continue
        new_cells.append(
            NewCell(box=box, kind=labelled.kind, label=labelled.label, source=LabelSource.IMPORT, reviewed=True)
        )
    if new_cells:
        store.add_cells(slide.id, new_cells, description="Import annotations")
        report.cells_added += len(new_cells)
        if any(cell.kind is CellKind.WHITE and cell.label for cell in new_cells):
            report.white_cell_types += 1


def _same_cell(box: Box, kind: CellKind, cell: Cell) -> bool:
    if cell.kind is not kind:
        return False
    return all(abs(a - b) <= _SAME_BOX_TOLERANCE for a, b in zip(box.as_tuple(), cell.box.as_tuple()))


__all__ = ["AnnotationError", "FORMATS", "ImportSourceError", "ImportReport", "detect_format", "import_source", "read_source"]
