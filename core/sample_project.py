"""The sample project: six BCCD fields (MIT) bundled in resources/sample/,
made into a project in the user's data folder so a newcomer can try the
whole review without data of their own.

The fields are copied out of the install first: an install may be
read-only, and a one-file bundle's folder is deleted when the program ends,
so a project there would lose its images.  A second call finds the project
made the first time and returns it as it is, with whatever was reviewed."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from core.formats import voc
from core.formats.common import atomic_copy, atomic_write_text, format_number
from core.importing import import_source
from core.jobs import CancelToken, Job, Progress
from core.resources import resource_path, user_data_dir
from core.schema import CellKind
from core.store import DEFAULT_EDITOR, ProjectStore
from core.taxonomy import Taxonomy

SAMPLE_FOLDER_NAME = "Sample Project"
SAMPLE_PROJECT_NAME = "sample.hemalabel"
REVIEW_CSV_NAME = "cells.csv"
# What is copied: the VOC layout the import reads, and the licence and
# README that must travel with BCCD's images.
_COPIED = ("Annotations/*.xml", "JPEGImages/*.jpg", "LICENSE", "README.md")


def bundled_sample_dir() -> Path:
    return resource_path("sample")


def sample_folder() -> Path:
    """Where the sample project lives: in the user's data folder, never in the install."""
    return user_data_dir() / SAMPLE_FOLDER_NAME


def prepare_sample_project(
    folder: str | os.PathLike[str] | None = None,
    source: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
    editor: str = DEFAULT_EDITOR,
) -> Job[Path]:
    """The sample project's file, made in `folder` (default sample_folder())
    from `source` (default the bundled sample) if it is not there yet.

    A project that already has slides is returned untouched, so the sample
    never gains a second copy of its cells and keeps what was reviewed.  An
    empty one (a first attempt cut short) is filled; the import adds every
    field in one transaction, so it is never half there."""
    cancel = cancel or CancelToken()
    target_folder = Path(folder) if folder is not None else sample_folder()
    source_folder = Path(source) if source is not None else bundled_sample_dir()
    project = target_folder / SAMPLE_PROJECT_NAME
    if project.is_file():
        with ProjectStore.open_to_read(project) as store:
            if store.slides():
                return project
    files = sorted(path for pattern in _COPIED for path in source_folder.glob(pattern))
    if not any(path.suffix.lower() == ".jpg" for path in files):
        raise FileNotFoundError(f"{source_folder}: the sample fields are missing from this installation")
    for index, path in enumerate(files, start=1):
        cancel.raise_if_cancelled()
        copy = target_folder / path.relative_to(source_folder)
        if not copy.is_file() or copy.stat().st_size != path.stat().st_size:
            atomic_copy(path, copy)
        yield Progress(index, len(files), f"copied {path.name}")
    with ProjectStore.open_or_create(project, editor=editor) as store:
        cells = _write_review_csv(target_folder, store.taxonomy)
        yield from import_source(store, cells, "csv", cancel=cancel)
    return project


def _write_review_csv(folder: Path, taxonomy: Taxonomy) -> Path:
    """BCCD's boxes as a CSV the import reads, its white cells marked not
    reviewed.  Imported as they are in VOC, the white cells would count as
    decided by a person (with no class, BCCD gives types per field, not per
    box) and the classifier would leave them be; as proposals, the
    classifier labels them and the newcomer reviews its labels, as with
    their own slides.  Red cells and platelets keep BCCD's word."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "x0", "y0", "x1", "y1", "kind", "class", "reviewed"])
    for image in voc.read_voc(folder, taxonomy).images:
        for labelled in image.boxes:
            writer.writerow([
                image.path.resolve().relative_to(folder.resolve()).as_posix(),
                *(format_number(value) for value in labelled.box.as_tuple()),
                labelled.kind.value,
                labelled.label or "",
                "false" if labelled.kind is CellKind.WHITE else "true",
            ])
    path = folder / REVIEW_CSV_NAME
    atomic_write_text(path, buffer.getvalue())
    return path
