"""Labelled white cells to train and evaluate on, from every source we have.

A sample is an image file, a box in it and a label: the crop is cut later by
core.crops.crop_square, the same function inference uses, so training sees
exactly what the classifier will be shown.  `group` is a digest of the image
file's bytes: byte-identical files (PBC holds some) and cells of one field
share it, so a split can keep them on one side.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.detection.colour_turns import HueTurn, model_colours, project_turn
from core.formats.folder import find_images
from core.imaging import ImageReadError, probe_image
from core.locating import CellLocator, LocateCounts, classifier_box, kind_of_label, read_and_locate
from core.schema import Box, Cell, CellKind, LabelSource
from core.slide_pixels import check_slide_file
from core.store import ProjectStore


class DatasetError(ValueError):
    """A training or evaluation source that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class LabelledCell:
    path: Path
    box: Box | None  # None: the whole file is the crop (a class-folder tree)
    label: str
    group: str
    source: str = ""
    kind: CellKind | None = None  # what the detector or a person made of it; None for a ready-made crop
    # The colours the models look at its field in (core.detection.colour_turns.
    # in_model_colours); None: the file's own.
    colours: HueTurn | None = None


def file_digest(path: Path) -> str:
    """sha1 of the file's bytes: equal files are duplicates whatever their names."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def match_class(name: str, classes: Sequence[str]) -> str | None:
    """A folder name matched to a class name, ignoring case and separators."""
    wanted = name.strip().lower().replace(" ", "_").replace("-", "_")
    for cls in classes:
        if cls.lower() == wanted:
            return cls
    return None


def from_class_folders(
    root: str | os.PathLike[str],
    classes: Sequence[str],
    skipped: list[tuple[str, str]] | None = None,
    locator: CellLocator | None = None,
    counts: LocateCounts | None = None,
) -> list[LabelledCell]:
    """Every image under root/<class>/ (one level of sub-folders per class;
    names matched case-insensitively).  An unknown folder name is an error
    listing the classes, since silently ignoring it would bias a metric.
    Unreadable images are appended to `skipped` (path, reason) and left out.
    With a locator each image's cell is found (its kind from its folder's
    class) and becomes the sample's box, as classify --images crops it;
    `counts` tallies how."""
    folder = Path(root)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    samples: list[LabelledCell] = []
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{folder}: holds no class folders (expected {folder}/<class>/image.png)")
    for class_dir in class_dirs:
        label = match_class(class_dir.name, classes)
        if label is None:
            raise DatasetError(
                f"{class_dir}: folder name {class_dir.name!r} is not a class of the model; "
                f"classes are: {', '.join(classes)}"
            )
        # Hidden files and folders are left out as on import: a tree copied
        # from a Mac carries a "._name.png" beside every image, and a
        # viewer's .thumbnails folder is no class's data.
        for path in find_images(class_dir):
            if locator is None:
                try:
                    probe_image(path, verify_pixels=False)
                except ImageReadError as error:
                    if skipped is not None:
                        skipped.append((str(path), error.reason))
                    continue
            samples.append(LabelledCell(path, None, label, file_digest(path), "folder"))
    return samples if locator is None else locate_samples(samples, locator, skipped, counts)


def locate_samples(
    samples: Sequence[LabelledCell],
    locator: CellLocator,
    skipped: list[tuple[str, str]] | None = None,
    counts: LocateCounts | None = None,
) -> list[LabelledCell]:
    """Whole-file samples (box None) given the box of the cell the locator
    finds, of the kind their label says; samples with a box pass through.
    Unreadable files go to `skipped`."""
    boxed = [sample for sample in samples if sample.box is not None]
    samples = [sample for sample in samples if sample.box is None]
    kinds = [kind_of_label(sample.label) for sample in samples]
    found: list[LabelledCell] = []
    for sample, read in zip(samples, read_and_locate([s.path for s in samples], locator, kinds)):
        if read.cell is None or read.image is None:
            if skipped is not None:
                skipped.append((str(read.path), read.error or "unreadable"))
            continue
        if counts is not None:
            counts.add(read.cell)
        box = classifier_box(read.cell, read.image.shape[1], read.image.shape[0])
        found.append(LabelledCell(sample.path, box, sample.label, sample.group, sample.source, sample.kind))
    return boxed + found


def is_human_decided(cell: Cell) -> bool:
    """A label a person stands behind: reviewed, drawn or relabelled by a
    person, or imported with an annotation file."""
    return cell.reviewed or cell.source in (LabelSource.HUMAN, LabelSource.IMPORT)


def is_training_cell(cell: Cell, wanted: set[str], kinds: set[CellKind]) -> bool:
    """A cell a classifier may learn from: of a kind it classifies, with a
    class it knows, a box, and a label a person stands behind."""
    return cell.kind in kinds and cell.label in wanted and is_human_decided(cell) and not cell.box.is_empty()


def from_store(
    store: ProjectStore,
    classes: Sequence[str],
    kinds: Iterable[CellKind] = (CellKind.WHITE, CellKind.PLATELET),
    group_by_slide: bool = False,
) -> list[LabelledCell]:
    """The project's cells whose label a human decided (imported, confirmed or
    corrected) and is one of `classes`, each in the colours the models look
    at its slide in (core.detection.colour_turns.in_model_colours).  Model
    guesses nobody reviewed are not training data.  A sample's group is its image's digest (byte-identical
    slides stay together), or with group_by_slide its slide, which needs no
    reading of the images."""
    wanted = set(classes)
    kinds = set(kinds)
    samples: list[LabelledCell] = []
    slides = store.slides()
    lab_turn = project_turn(slides)
    for slide in slides:
        cells = [cell for cell in store.cells(slide.id) if is_training_cell(cell, wanted, kinds)]
        if not cells:
            continue
        # Resolved now: the path must outlive a throw-away project folder.
        path = store.image_path(slide).resolve()
        if not path.is_file():
            continue
        try:
            check_slide_file(store, slide)
        except ImageReadError:
            continue  # unreadable, or changed in size since its boxes were drawn: its crops would be wrong
        group = f"slide:{slide.path}" if group_by_slide else file_digest(path)
        colours = model_colours(slide, lab_turn)
        samples.extend(LabelledCell(path, cell.box, str(cell.label), group, "project", cell.kind, colours)
                       for cell in cells)
    return samples


def from_bccd(root: str | os.PathLike[str], classes: Sequence[str], splits: Sequence[str]) -> list[LabelledCell]:
    """BCCD's labelled white cells in the given splits, read through the
    project importer (so a field's type labels its cell only when the field
    holds exactly one white cell) into a throw-away project."""
    from core.importing import import_source
    from core.jobs import run_job

    samples: list[LabelledCell] = []
    with (
        tempfile.TemporaryDirectory(prefix="hemalabel-bccd-") as scratch,
        ProjectStore.create(Path(scratch) / "bccd.hemalabel") as store,
    ):
        for split in splits:
            run_job(import_source(store, root, fmt="voc", split=split))
        for sample in from_store(store, classes, kinds=(CellKind.WHITE,)):
            samples.append(LabelledCell(sample.path, sample.box, sample.label, sample.group, "bccd", sample.kind))
    return samples
