"""Importing a source (a folder of images or annotated data) into a project.

An import reads and checks everything first (a malformed annotation rejects
the whole import before the project is touched), then writes in a single
transaction: it is applied whole or not at all.  Images are referenced where
they are, never copied or modified.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from core.formats import bccd_subtypes, coco, crops, csv_format, folder, voc, yolo
from core.formats.common import (
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ImportPlan,
    UnknownClass,
    read_manifest,
)
from core.imaging import ImageReadError, probe_image
from core.jobs import CancelToken, Job, Progress
from core.locating import LOCATE_MODES, CellLocator, LocateCounts, Placement, load_locator, read_and_locate
from core.schema import Box, Cell, CellKind, LabelSource, NewCell, Slide, SlideStatus
from core.slide_pixels import changed_size
from core.store import ProjectStore
from core.taxonomy import Taxonomy
from core.wording import counted, counted_verb

FORMATS = ("auto", "folder", "voc", "yolo", "coco", "crops", "csv")

# Boxes that differ by less than this (in pixels, per side) are the same box:
# re-importing a source must not duplicate its cells.
_SAME_BOX_TOLERANCE = 0.5


class ImportSourceError(ValueError):
    """A source that cannot be imported at all (missing, unknown format)."""


class UnknownClassesError(ImportSourceError):
    """The source uses class names the project does not know.  Nothing was
    imported; `unknown` lists each name, how many boxes use it and where it is
    first used, so the user can map each to a project class or skip them."""

    def __init__(self, source: Path, unknown: list[UnknownClass]) -> None:
        listing = "; ".join(
            f"{item.name!r}: {counted(item.count, 'box', 'boxes')}, first at {item.first_seen}" for item in unknown
        )
        classes = "a class" if len(unknown) == 1 else "classes"
        super().__init__(
            f"{source}: {classes} not in this project: {listing}. Nothing was imported; "
            "map each to a project class or skip them"
        )
        self.source = source
        self.unknown = unknown


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
    cells_found: LocateCounts | None = None  # crops whose cell the locator looked for
    backup: str | None = None  # the copy of the project taken before the import, where it held slides

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
            "cells_found": self.cells_found.as_dict() if self.cells_found is not None else None,
            "backup": self.backup,
        }


def detect_format(source: Path) -> str:
    """The format of a folder (or of a .json / .csv file).  A HemaLabel export
    says its format in hemalabel.json; crops are never guessed, since a
    class-folder tree looks like any folder of images."""
    if source.is_file():
        return {".json": "coco", ".csv": "csv"}.get(source.suffix.lower(), "folder")
    manifest = read_manifest(source)
    if manifest is not None and manifest.format in FORMATS[1:]:
        return manifest.format
    if voc.looks_like_voc(source):
        return "voc"
    if yolo.looks_like_yolo(source):
        return "yolo"
    if coco.looks_like_coco(source):
        return "coco"
    if csv_format.looks_like_csv(source):
        return "csv"
    return "folder"


def read_source(
    source: Path,
    fmt: str,
    taxonomy: Taxonomy,
    split: str | None = None,
    resolver: ClassResolver | None = None,
    files: list[Path] | None = None,
    crop_margin: float | None = None,
) -> ImportPlan:
    """Parse and check a whole source; raises AnnotationError naming the
    file and line or element of the first problem.  Class names the resolver
    does not know are recorded in `resolver.unknown` and their boxes left out."""
    manifest = read_manifest(source)
    if resolver is None:
        resolver = ClassResolver(taxonomy, declared=manifest.classes if manifest else None)
    if fmt == "folder":
        return folder.read_folder(source)
    if fmt == "voc":
        plan = voc.read_voc(source, taxonomy, resolver)
        if split is not None:
            plan.images = [image for image in plan.images if image.attributes.get("split") == split]
        subtypes_file = source / bccd_subtypes.FILE_NAME
        if subtypes_file.is_file():
            subtypes = bccd_subtypes.read_subtypes(subtypes_file)
            bccd_subtypes.apply_subtypes(plan, subtypes, taxonomy, subtypes_file)
        return plan
    if fmt == "yolo":
        return yolo.read_yolo(source, taxonomy, split, resolver, clip=False)
    if fmt in ("coco", "csv"):
        reader = coco.read_coco if fmt == "coco" else csv_format.read_csv
        plan = reader(source, resolver, files)
        if split is not None:
            plan.images = [image for image in plan.images if image.attributes.get("split") == split]
        return plan
    if fmt == "crops":
        if crop_margin is None:
            crop_margin = float((manifest.options.get("crop_margin") if manifest else None) or 0.0)
        return crops.read_crops(source, resolver, crop_margin, split)
    raise ImportSourceError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")


def import_source(
    store: ProjectStore,
    source: str | os.PathLike[str],
    fmt: str = "auto",
    split: str | None = None,
    cancel: CancelToken | None = None,
    class_map: dict[str, str] | None = None,
    skip_unknown: bool = False,
    crop_margin: float | None = None,
    locate: str = "auto",
    locator: CellLocator | None = None,
) -> Job[ImportReport]:
    """Import `source` into `store`, yielding progress while images are checked.

    Everything is read and checked before the project is touched; then one
    transaction writes it all, so a failure or a cancel leaves the project as
    it was.  Images already in the project (the same file, or a copy of it
    with the same name and content) get the new boxes; boxes they already
    have are not added twice.  Class names the project does not know raise
    UnknownClassesError unless mapped (`class_map`, old name -> project
    class) or skipped (`skip_unknown`).

    Crops (one cell an image) whose margin nobody recorded get the box of
    the cell the locator finds in each (`locate` "auto"; `locator` defaults
    to the detector in use); "off" makes each whole image its cell's box."""
    if locate not in LOCATE_MODES:
        raise ImportSourceError(f"locate must be one of {', '.join(LOCATE_MODES)}, not {locate!r}")
    cancel = cancel or CancelToken()
    given = Path(source).resolve()
    if not given.exists():
        raise ImportSourceError(f"{source}: no such folder or file")
    chosen = detect_format(given) if fmt == "auto" else fmt
    if chosen not in FORMATS[1:]:
        raise ImportSourceError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")
    files = None
    root = given
    if given.is_file():
        if chosen not in ("coco", "csv"):
            raise ImportSourceError(_file_for_folder_format(source, chosen))
        root, files = given.parent, [given]
    manifest = read_manifest(root)
    try:
        resolver = ClassResolver(store.taxonomy, declared=manifest.classes if manifest else None, mapping=class_map)
    except ValueError as error:
        raise ImportSourceError(str(error)) from None
    plan = read_source(root, chosen, store.taxonomy, split, resolver, files, crop_margin)
    if resolver.unknown and not skip_unknown:
        raise UnknownClassesError(given, sorted(resolver.unknown.values(), key=lambda item: item.name))
    report = ImportReport(format=chosen, source=str(given), warnings=list(plan.warnings))

    if chosen == "crops" and locate == "auto" and not _crop_margin_known(manifest, crop_margin):
        readable = yield from _located_crops(plan.images, locator or load_locator(), report, cancel)
    else:
        readable = yield from _checked_images(plan.images, report, cancel)

    cancel.raise_if_cancelled()
    if not store.read_only and store.slides():
        # An import writes many slides at once: keep the project as it was
        # beside it (replacing the copy from the import before); a server
        # project has no file to copy, its server's back-ups keep it.
        copy = store.back_up()
        report.backup = None if copy is None else str(copy)
    matcher = _SlideMatcher(store)
    with store.edit(f"Import {given.name}", record_history=False):
        for index, (image, width, height) in enumerate(readable, start=1):
            # A cancel here (or a caller dropping the job) rolls the whole
            # transaction back.
            cancel.raise_if_cancelled()
            _write_image(store, image, width, height, report, matcher)
            if index % 64 == 0 or index == len(readable):
                yield Progress(index, len(readable), f"wrote {index} of {len(readable)} images to the project")
    return report


# What a technician calls each format that is read from a folder, for a
# refusal of a file given where its folder was wanted.
_FOLDER_FORMAT_NAMES = {"voc": "Pascal VOC", "yolo": "YOLO", "crops": "class-folder crops"}


def _file_for_folder_format(source: str | os.PathLike[str], chosen: str) -> str:
    only_files = "only a COCO .json or a .csv is imported as one file"
    if chosen == "folder":
        return (f"{source} is a file, but slide images are imported a folder at a time: choose the folder that "
                f"holds it ({only_files})")
    name = _FOLDER_FORMAT_NAMES.get(chosen, chosen)
    return f"{source} is a file, but a {name} dataset is a folder: choose its folder ({only_files})"


Readable = list[tuple[AnnotatedImage, int, int]]  # each image with its width and height


def _crop_margin_known(manifest: object, crop_margin: float | None) -> bool:
    """A HemaLabel crops export records the margin it cut with, and
    --crop-margin states one: the cell's box is then known exactly."""
    options = getattr(manifest, "options", None) or {}
    return crop_margin is not None or options.get("crop_margin") is not None


def _checked_images(
    images: list[AnnotatedImage], report: ImportReport, cancel: CancelToken
) -> Generator[Progress, None, Readable]:
    """Every image decoded once to prove it readable; the others go to the
    report's skipped list."""
    readable = []
    total = len(images)
    for index, image in enumerate(images, start=1):
        cancel.raise_if_cancelled()
        try:
            info = probe_image(image.path)
        except ImageReadError as error:
            report.skipped.append((str(image.path), error.reason))
        else:
            if image.size is not None and image.size != (info.width, info.height) and image.boxes:
                report.warnings.append(
                    f"{image.origin or image.path}: annotation says {image.size[0]}x{image.size[1]}, "
                    f"image is {info.width}x{info.height}; boxes kept as given"
                )
            readable.append((image, info.width, info.height))
        if index % 8 == 0 or index == total:
            yield Progress(index, total, f"checked {index} of {total} images")
    return readable


def _located_crops(
    images: list[AnnotatedImage], locator: CellLocator, report: ImportReport, cancel: CancelToken
) -> Generator[Progress, None, Readable]:
    """Every crop decoded (which proves it readable) and its box made the
    cell the locator finds, of the kind its class folder says; a tight crop
    or one with no cell found keeps the whole image, counted in the report."""
    readable = []
    counts = report.cells_found = LocateCounts()
    total = len(images)
    kinds = [image.boxes[0].kind if image.boxes else None for image in images]
    for index, (image, read) in enumerate(zip(images, read_and_locate([i.path for i in images], locator, kinds)), 1):
        cancel.raise_if_cancelled()
        if read.image is None or read.cell is None:
            report.skipped.append((str(image.path), read.error or "unreadable"))
        else:
            counts.add(read.cell)
            if read.cell.placement is Placement.LOCATED:
                image.boxes = [dataclasses.replace(box, box=read.cell.box) for box in image.boxes]
            readable.append((image, int(read.image.shape[1]), int(read.image.shape[0])))
        if index % 64 == 0 or index == total:
            yield Progress(index, total, f"found the cell in {index} of {total} crops")
    if counts.whole:
        report.warnings.append(f"no cell found in {counts.whole} of {total} crops: each of those is boxed whole")
    return readable


class _SlideMatcher:
    """Finds the slide an imported image already is: the same file, or a copy
    of it (an exported dataset coming back) with the same name, size and bytes."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self.by_name: dict[str, list[Slide]] = {}
        for slide in store.slides():
            self.by_name.setdefault(Path(slide.path).name.lower(), []).append(slide)
        self._digests: dict[Path, str | None] = {}

    def find(self, path: Path, width: int, height: int) -> Slide | None:
        slide = self.store.slide_by_path(path)
        if slide is not None:
            return slide
        candidates = [
            slide
            for slide in self.by_name.get(path.name.lower(), [])
            if (slide.width, slide.height) == (width, height)
        ]
        if not candidates:
            return None
        wanted = self._digest(path)
        for slide in candidates:
            if wanted is not None and self._digest(self.store.image_path(slide)) == wanted:
                return slide
        return None

    def _digest(self, path: Path) -> str | None:
        path = path.resolve()
        if path not in self._digests:
            try:
                self._digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self._digests[path] = None
        return self._digests[path]


def _write_image(
    store: ProjectStore,
    image: AnnotatedImage,
    width: int,
    height: int,
    report: ImportReport,
    matcher: _SlideMatcher,
) -> None:
    slide = matcher.find(image.path, width, height)
    if slide is not None:
        changed = changed_size(slide, width, height)
        if changed is not None:
            # The project's boxes are in the old image's pixels: adding boxes
            # drawn on this one would mix the two.
            report.skipped.append((str(image.path), f"{changed}; not imported"))
            return
    if slide is None:
        slide = store.add_slide(image.path, width, height, attributes=dict(image.attributes))
        report.slides_added += 1
        existing: list[Cell] = []
    else:
        report.slides_existing += 1
        existing = store.cells(slide.id)
    new_cells = []
    for labelled in image.boxes:
        where = _where(image, labelled.where)
        box = labelled.box.clipped(width, height)
        if box != labelled.box:
            if box.is_empty():
                report.warnings.append(f"{where}: box {labelled.box.as_tuple()} lies outside the image; skipped")
                continue
            report.warnings.append(f"{where}: box {labelled.box.as_tuple()} clipped to the image")
        elif box.is_empty():
            # A zero-size box inside the image still marks a cell: keep it so the
            # annotation's counts hold and a technician can fix it in review.
            report.warnings.append(f"{where}: box {box.as_tuple()} has zero size; kept for review")
        if any(_same_cell(box, labelled.kind, cell) for cell in existing):
            report.cells_duplicate += 1
            continue
        new_cells.append(
            NewCell(
                box=box,
                kind=labelled.kind,
                label=labelled.label,
                # A model's unreviewed guess (CSV says so) stays one.
                source=LabelSource.IMPORT if labelled.reviewed else LabelSource.MODEL,
                probabilities=dict(labelled.probabilities),
                reviewed=labelled.reviewed,
            )
        )
    if new_cells and slide.status is SlideStatus.SIGNED_OFF:
        # Signed off is locked: the rest of the import goes ahead without it.
        boxes = counted_verb(len(new_cells), "new box", "was", "were", "new boxes")
        report.skipped.append((str(image.path), f"signed off, so its {boxes} not imported (unlock it first)"))
        return
    if new_cells:
        store.add_cells(slide.id, new_cells, description="Import annotations")
        report.cells_added += len(new_cells)
        if any(cell.kind is CellKind.WHITE and cell.label for cell in new_cells):
            report.white_cell_types += 1


def _where(image: AnnotatedImage, entry: str) -> str:
    """The annotation file and entry of a box, for messages."""
    where = str(image.annotation or image.path)
    return f"{where}:{entry}" if entry else where


def _same_cell(box: Box, kind: CellKind, cell: Cell) -> bool:
    if cell.kind is not kind:
        return False
    return all(abs(a - b) <= _SAME_BOX_TOLERANCE for a, b in zip(box.as_tuple(), cell.box.as_tuple()))


__all__ = [
    "AnnotationError",
    "FORMATS",
    "ImportReport",
    "ImportSourceError",
    "UnknownClassesError",
    "detect_format",
    "import_source",
    "read_source",
]
