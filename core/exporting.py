"""Exporting labelled data: Pascal VOC, COCO, YOLO, class-folder crops, CSV.

An export chooses slides and cells, gives every slide a unique safe file
name and (optionally) a train/val/test split drawn by slide with a seed,
then hands that plan to the format's writer.  Every file is written to a
temporary name and renamed, so no reader ever sees half a file.  Last comes
hemalabel.json: the class table and options, which make an import of the
export give back exactly what was exported."""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.crops import DEFAULT_MARGIN
from core.formats import coco, crops, csv_format, voc, yolo
from core.formats.common import (
    KIND_EXPORT_NAMES,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    ExportImage,
    ExportPlan,
    atomic_write_text,
    export_class_name,
)
from core.imaging import ImageReadError
from core.jobs import CancelToken, Job, Progress
from core.safe_output import OutsideFolderError, path_inside
from core.schema import Cell, CellKind, Slide, SlideStatus
from core.slide_pixels import check_slide_file
from core.store import ProjectStore, folder_is_writable, now_iso

EXPORT_FORMATS = ("voc", "coco", "yolo", "crops", "csv")
SLIDE_CHOICES = ("all", "reviewed", "signed-off")
SPLIT_NAMES = ("train", "val", "test")

_WRITERS = {
    "voc": voc.export_voc,
    "coco": coco.export_coco,
    "yolo": yolo.export_yolo,
    "crops": crops.export_crops,
    "csv": csv_format.export_csv,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExportError(ValueError):
    """Export options or a target folder that cannot be used."""


class FolderNotEmptyError(ExportError):
    """The target folder holds files; writing there needs the user's consent."""


class ExportStoppedError(ExportError):
    """Writing failed partway (a full disk, a drive gone): what was written is
    whole files only, but the export is not complete."""

    def __init__(self, target: Path, error: OSError) -> None:
        where = f" at {error.filename}" if error.filename else ""
        super().__init__(
            f"{target}: the export stopped{where}: {error.strerror or error}. The files written before it are "
            f"whole, but the export is incomplete (it has no {MANIFEST_NAME}); make room and export again"
        )


@dataclass(slots=True)
class ExportOptions:
    """What to export and how.

    slides: "all"; "reviewed" (signed off, or every cell reviewed); "signed-off".
    classes: keep only cells with these labels or kinds (a class name, or
        white/red/platelet, WBC/RBC/Platelets); None keeps every cell.
    split: train/val/test fractions drawn by slide, so no slide's cells leak
        across splits; None exports one set.
    """

    format: str
    slides: str = "all"
    classes: tuple[str, ...] | None = None
    split: tuple[float, ...] | None = None  # three fractions: train, val, test (checked)
    seed: int = 0
    crop_margin: float = DEFAULT_MARGIN
    crop_size: int | None = None
    crop_format: str = "png"
    copy_images: bool = True
    overwrite: bool = False


@dataclass(slots=True)
class ExportReport:
    format: str
    out: str
    slides: int = 0
    cells: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Labels the project's taxonomy lacks, and how many cells carried each:
    # those cells were exported under their kind's name (WBC, RBC, Platelets).
    unknown_labels: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return data


def export_dataset(
    store: ProjectStore, out: str | os.PathLike[str], options: ExportOptions, cancel: CancelToken | None = None
) -> Job[ExportReport]:
    """Write the chosen slides and cells of `store` to folder `out`."""
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    _check_options(store, options)
    target = Path(out).resolve()
    _prepare_folder(target, options.overwrite)
    report = ExportReport(format=options.format, out=str(target))
    plan = build_plan(store, options, report)
    yield Progress(0, max(1, len(plan.images)), f"exporting {len(plan.images)} slides")
    try:
        yield from _WRITERS[options.format](plan, target, cancel)
        cancel.raise_if_cancelled()
        write_manifest(target, plan, options, store)
    except OSError as error:
        raise ExportStoppedError(target, error) from error
    except OutsideFolderError as error:
        raise ExportError(str(error)) from None
    report.slides = len(plan.images)
    report.cells = plan.cell_count
    report.classes = dict(Counter(name for image in plan.images for _, name in image.cells))
    report.splits = dict(Counter(image.split for image in plan.images if image.split))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def build_plan(store: ProjectStore, options: ExportOptions, report: ExportReport | None = None) -> ExportPlan:
    """Choose slides and cells, name files, draw splits and the class table."""
    slides = [slide for slide in store.slides() if _slide_chosen(store, slide, options.slides)]
    cells_by_slide: dict[int, list[Cell]] = {}
    for cell in store.cells():
        cells_by_slide.setdefault(cell.slide_id, []).append(cell)
    chosen: list[tuple[Slide, Path, list[Cell]]] = []
    for slide in slides:
        source = store.image_path(slide)
        if (options.copy_images or options.format == "crops") and not source.is_file():
            if report is not None:
                report.skipped.append((str(source), "image file missing; slide not exported"))
            continue
        if source.is_file():
            try:
                check_slide_file(store, slide)
            except ImageReadError as error:
                if report is not None:
                    report.skipped.append((str(source), f"{error.reason}; slide not exported"))
                continue
        cells = [
            _within_taxonomy(cell, store, report)
            for cell in cells_by_slide.get(slide.id, [])
            if _cell_chosen(cell, options.classes, store)
        ]
        chosen.append((slide, source, cells))

    class_names: dict[tuple[CellKind, str | None], str] = {}
    for key in sorted({(c.kind, c.label) for _, _, cells in chosen for c in cells}, key=_class_order(store)):
        class_names[key] = export_class_name(key[0], key[1], store.taxonomy, set(class_names.values()))
    splits = _assign_splits([slide for slide, _, _ in chosen], options.split, options.seed)
    names = _unique_file_names([slide for slide, _, _ in chosen])
    images = [
        ExportImage(
            slide=slide,
            source=source,
            file_name=names[slide.id],
            split=splits.get(slide.id),
            cells=[(cell, class_names[(cell.kind, cell.label)]) for cell in cells],
        )
        for slide, source, cells in chosen
    ]
    return ExportPlan(
        images=images,
        classes=[(name, kind, label) for (kind, label), name in class_names.items()],
        splits=[name for name in SPLIT_NAMES if options.split] if options.split else [],
        copy_images=options.copy_images,
        crop_margin=options.crop_margin,
        crop_size=options.crop_size,
        crop_format=options.crop_format,
    )


def write_manifest(out: Path, plan: ExportPlan, options: ExportOptions, store: ProjectStore) -> None:
    manifest = {
        "hemalabel_export": MANIFEST_VERSION,
        "format": options.format,
        "exported_at": now_iso(),
        "project": store.path.name,
        "classes": [{"name": name, "kind": kind.value, "label": label} for name, kind, label in plan.classes],
        "options": {
            "slides": options.slides,
            "classes": list(options.classes) if options.classes else None,
            "split": list(options.split) if options.split else None,
            "seed": options.seed,
            "crop_margin": options.crop_margin,
            "crop_size": options.crop_size,
            "crop_format": options.crop_format,
            "copy_images": options.copy_images,
        },
        "taxonomy": json.loads(store.taxonomy.to_json()),
    }
    atomic_write_text(path_inside(out, MANIFEST_NAME), json.dumps(manifest, indent=2) + "\n")


# --------------------------------------------------------------------------- choices

def _check_options(store: ProjectStore, options: ExportOptions) -> None:
    if options.format not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {options.format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if options.slides not in SLIDE_CHOICES:
        raise ExportError(f"slides must be one of {', '.join(SLIDE_CHOICES)}, not {options.slides!r}")
    if options.classes is not None:
        unknown = [name for name in options.classes if _class_filter(name, store) is None]
        if unknown:
            raise ExportError(
                f"unknown {'class' if len(unknown) == 1 else 'classes'} {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(store.taxonomy.names)}, "
                "or white, red, platelet"
            )
    split = options.split
    if split is not None and (len(split) != 3 or any(part < 0 for part in split) or abs(sum(split) - 1) > 1e-6):
        raise ExportError(f"split must be three fractions (train, val, test) adding up to 1, not {split}")
    if not 0 <= options.crop_margin <= 5:
        raise ExportError(f"crop margin must lie between 0 and 5 (a fraction of the box), not {options.crop_margin}")
    if options.crop_size is not None and not 1 <= options.crop_size <= 4096:
        raise ExportError(f"crop size must lie between 1 and 4096 pixels, not {options.crop_size}")
    if options.crop_format not in crops.CROP_FORMATS:
        raise ExportError(f"crop format must be one of {', '.join(crops.CROP_FORMATS)}, not {options.crop_format!r}")


def _prepare_folder(target: Path, overwrite: bool) -> None:
    """Refuse to mix an export into a folder holding other things, and find a
    read-only or missing folder before any work is done."""
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise FolderNotEmptyError(f"{target}: folder is not empty; choose an empty folder or allow overwriting")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"{target}: cannot create the folder ({error.strerror})") from None
    if not folder_is_writable(target):
        raise ExportError(f"{target}: folder is not writable")


def _slide_chosen(store: ProjectStore, slide: Slide, which: str) -> bool:
    if which == "all" or slide.status is SlideStatus.SIGNED_OFF:
        return True
    if which == "signed-off":
        return False
    cells = store.cells(slide.id)
    return bool(cells) and all(cell.reviewed for cell in cells)


def _within_taxonomy(cell: Cell, store: ProjectStore, report: ExportReport | None) -> Cell:
    """The cell as exported: a label the project's taxonomy lacks (a class
    since removed, or a hand-edited project's "../../X") is dropped, so the
    cell goes out under its kind's name, as an unlabelled one does.  That is
    what the project itself makes of it (the differential counts it as
    Unidentified), and no text from outside the taxonomy becomes a class
    name, a folder or a file of the export."""
    if cell.label is None or cell.label in store.taxonomy:
        return cell
    if report is not None:
        report.unknown_labels[cell.label] = report.unknown_labels.get(cell.label, 0) + 1
    return cell.with_changes(label=None)


def _class_filter(name: str, store: ProjectStore) -> tuple[str, Any] | None:
    if name in store.taxonomy:
        return ("label", name)
    lowered = name.strip().lower()
    for kind in CellKind:
        if lowered in (kind.value, KIND_EXPORT_NAMES[kind].lower()):
            return ("kind", kind)
    return None


def _cell_chosen(cell: Cell, classes: tuple[str, ...] | None, store: ProjectStore) -> bool:
    if classes is None:
        return True
    for name in classes:
        what, value = _class_filter(name, store) or (None, None)
        if (what == "label" and cell.label == value) or (what == "kind" and cell.kind is value):
            return True
    return False


def _class_order(store: ProjectStore) -> Callable[[tuple[CellKind, str | None]], tuple[int, int, str, int]]:
    """Unlabelled kinds first in BCCD's order (WBC, RBC, Platelets), then the
    labels in taxonomy order: a stable class index for YOLO and COCO."""
    kinds = list(CellKind)
    names = store.taxonomy.names

    def key(item: tuple[CellKind, str | None]) -> tuple[int, int, str, int]:
        kind, label = item
        if label is None:
            return (0, kinds.index(kind), "", 0)
        return (1, names.index(label) if label in names else len(names), label, kinds.index(kind))

    return key


def _assign_splits(
    slides: list[Slide], fractions: tuple[float, ...] | None, seed: int
) -> dict[int, str]:
    """Shuffle slides (by path, so the draw does not depend on insertion
    order) with `seed` and cut them by the fractions."""
    if fractions is None:
        return {}
    ordered = sorted(slides, key=lambda slide: slide.path)
    random.Random(seed).shuffle(ordered)
    total = len(ordered)
    n_train = round(total * fractions[0])
    n_val = min(total - n_train, round(total * fractions[1]))
    splits = {}
    for index, slide in enumerate(ordered):
        splits[slide.id] = "train" if index < n_train else "val" if index < n_train + n_val else "test"
    return splits


def _unique_file_names(slides: list[Slide]) -> dict[int, str]:
    """Each slide's file name in the dataset: its own name made safe, with the
    slide id in front where two slides share a stem (ignoring case: one
    annotation file per stem, on any file system)."""
    names: dict[int, str] = {}
    stems: set[str] = set()
    for slide in sorted(slides, key=lambda slide: slide.id):
        original = Path(slide.path)
        stem = _UNSAFE.sub("_", original.stem).strip("._") or "slide"
        suffix = _UNSAFE.sub("", original.suffix.lower()) or ".png"
        candidate, counter = stem, 1
        while candidate.lower() in stems:
            candidate = f"{stem}_slide{slide.id}" + (f"_{counter}" if counter > 1 else "")
            counter += 1
        stems.add(candidate.lower())
        names[slide.id] = candidate + suffix
    return names
