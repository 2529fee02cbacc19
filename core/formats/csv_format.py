"""CSV: one row per cell (image, box, kind, class, probability, source,
reviewed, split, then the lymphoid screen's columns), for spreadsheets, R
and pandas.

A slide without cells gets one row with an empty box, so a round trip keeps
it.  Coordinates are written as the shortest text that reads back as the
same float: a round trip is exact.  `reviewed` is honoured on import: a
model's unreviewed guess comes back as one, never as a reviewed label."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from core.formats import screen_columns
from core.formats.common import (
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ExportPlan,
    ImportPlan,
    LabelledBox,
    atomic_copy,
    atomic_write_text,
    decode_text,
    format_number,
    parse_number,
    read_text,
    resolve_inside,
)
from core.jobs import CancelToken, Job, Progress
from core.safe_output import path_inside, spreadsheet_text
from core.schema import Box, CellKind

FILE_NAME = "cells.csv"
COLUMNS = (
    "image",
    "image_width",
    "image_height",
    "cell_id",
    "x0",
    "y0",
    "x1",
    "y1",
    "kind",
    "class",
    "probability",
    "source",
    "reviewed",
    "split",
    # Added after the others, so scripts reading the columns above by
    # position read them still; empty for a cell never screened.
    *screen_columns.SCREEN_COLUMNS,
)
REQUIRED = ("image", "x0", "y0", "x1", "y1", "kind")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
_KINDS = {"white": CellKind.WHITE, "wbc": CellKind.WHITE, "red": CellKind.RED, "rbc": CellKind.RED,
          "platelet": CellKind.PLATELET, "platelets": CellKind.PLATELET, "plt": CellKind.PLATELET}


# Spreadsheets in many European locales save CSV with semicolons (and
# decimal commas, since the comma is their decimal mark); some tools use tabs.
_DELIMITERS = (",", ";", "\t")


def _delimiter_of(header_line: str) -> str | None:
    """The delimiter that splits a header line into our required columns."""
    for delimiter in _DELIMITERS:
        try:
            names = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
        except csv.Error:  # not a header of ours; read_csv_file names the fault if asked to read it
            continue
        if all(column in names for column in REQUIRED):
            return delimiter
    return None


def csv_files(root: Path) -> list[Path]:
    """The CSV files of `root` whose header has the columns we need.  A .csv
    whose header cannot be read (unreadable, or in no encoding we know) is
    an AnnotationError naming it: passing it over would import its folder
    as bare images and lose every cell without a word."""
    found = []
    for path in sorted(root.glob("*.csv")):
        if not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                head = handle.read(_HEADER_BYTES)
        except OSError as error:
            raise AnnotationError(path, "", f"cannot read ({error.strerror or error})") from None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            header_line = head.decode("utf-16", errors="replace").split("\n", 1)[0]
        else:
            end = min((head.find(mark) for mark in (b"\n", b"\r") if mark in head), default=len(head))
            header_line = decode_text(head[:end], path, spreadsheet=True)
        if _delimiter_of(header_line) is not None:
            found.append(path)
    return found


# A header line is far shorter; enough to tell a cells CSV from any other.
_HEADER_BYTES = 65536


def looks_like_csv(root: Path) -> bool:
    return bool(csv_files(root))


def read_csv(root: Path, resolver: ClassResolver, files: list[Path] | None = None) -> ImportPlan:
    files = files if files is not None else csv_files(root)
    if not files:
        raise AnnotationError(root, "", f"no CSV file with the columns {', '.join(REQUIRED)}")
    images: dict[Path, AnnotatedImage] = {}
    for path in files:
        read_csv_file(path, root, resolver, images)
    return ImportPlan(images=list(images.values()), format="csv", warnings=resolver.unknown_warnings())


def read_csv_file(path: Path, root: Path, resolver: ClassResolver, images: dict[Path, AnnotatedImage]) -> None:
    # UTF-8, or the Windows code page a spreadsheet saved it in.
    handle = io.StringIO(read_text(path, spreadsheet=True), newline="")
    with handle:
        delimiter = _delimiter_of(handle.readline()) or ","
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = [name.strip() for name in next(reader, [])]
            missing = [column for column in REQUIRED if column not in header]
            if missing:
                raise AnnotationError(path, "line 1", f"missing column(s): {', '.join(missing)}")
            if len(set(header)) != len(header):
                raise AnnotationError(path, "line 1", "a column name appears twice")
            ids: dict[str, int] = {}
            for row in reader:
                if not row or all(not value.strip() for value in row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise AnnotationError(path, f"line {line}", f"expected {len(header)} fields, found {len(row)}")
                values = dict(zip(header, (value.strip() for value in row)))
                _read_row(values, path, root, line, resolver, images, ids, decimal_comma=delimiter == ";")
        except csv.Error as error:
            raise AnnotationError(path, f"line {reader.line_num}", f"malformed CSV ({error})") from None


def _number(text: str, decimal_comma: bool) -> float:
    """A number from a cell; with semicolon-separated files, "12,5" is 12.5."""
    return float(text.replace(",", ".") if decimal_comma else text)


def is_probability(value: float) -> bool:
    """A finite number from 0 to 1 (NaN fails every comparison)."""
    return 0.0 <= value <= 1.0


def _read_row(
    row: dict[str, str],
    path: Path,
    root: Path,
    line: int,
    resolver: ClassResolver,
    images: dict[Path, AnnotatedImage],
    ids: dict[str, int],
    decimal_comma: bool = False,
) -> None:
    where = f"line {line}"
    image_path = resolve_inside(root, row["image"], path, where)
    if not image_path.is_file():
        raise AnnotationError(path, where, f"image {row['image']!r} not found")
    image = images.get(image_path)
    if image is None:
        image = images[image_path] = AnnotatedImage(path=image_path, origin=f"{path}:{where}", annotation=path)
        if row.get("split"):
            image.attributes["split"] = row["split"]
    cell_id = row.get("cell_id", "")
    if cell_id:
        if cell_id in ids:
            raise AnnotationError(path, where, f"duplicate cell_id {cell_id} (first on line {ids[cell_id]})")
        ids[cell_id] = line
    coordinates = [row[name] for name in ("x0", "y0", "x1", "y1")]
    if not any(coordinates) and not row["kind"]:
        return  # a slide without cells
    try:
        x0, y0, x1, y1 = (
            parse_number(value.replace(",", ".") if decimal_comma else value, path, name)
            for name, value in zip(("x0", "y0", "x1", "y1"), coordinates)
        )
        box = Box(x0, y0, x1, y1)
    except AnnotationError as error:
        raise AnnotationError(path, where, f"bad box {coordinates}: {error.where} {error.reason}") from None
    except ValueError as error:
        raise AnnotationError(path, where, f"bad box {coordinates}: {error}") from None
    kind = _KINDS.get(row["kind"].lower())
    if kind is None:
        raise AnnotationError(path, where, f"kind must be white, red or platelet, found {row['kind']!r}")
    label = None
    class_name = row.get("class", "")
    if class_name:
        # The column holds a project class name; a name that is also a kind
        # name ("rbc") must not be read as the kind.
        if class_name not in resolver.mapping and class_name in resolver.taxonomy:
            label = class_name
        else:
            mapped = resolver.resolve(class_name, path, where)
            if mapped is None:
                return
            label = mapped[1]
    reviewed_text = row.get("reviewed", "").lower()
    if reviewed_text and reviewed_text not in _TRUE | _FALSE:
        raise AnnotationError(path, where, f"reviewed must be true or false, found {row['reviewed']!r}")
    probabilities: tuple[tuple[str, float], ...] = ()
    if row.get("probability") and label is not None:
        try:
            probability = _number(row["probability"], decimal_comma)
        except ValueError:
            raise AnnotationError(path, where, f"probability must be a number, found {row['probability']!r}") from None
        # "nan", "inf" and 7.5 parse as floats, but are no probability: kept,
        # they would sort, flag and re-export as if a model had given them.
        if not is_probability(probability):
            raise AnnotationError(
                path, where, f"probability must be a number from 0 to 1, found {row['probability']!r}"
            )
        probabilities = ((label, probability),)
    image.boxes.append(
        LabelledBox(box, kind, label, where=where, reviewed=reviewed_text not in _FALSE, probabilities=probabilities)
    )


# --------------------------------------------------------------------------- export

def export_csv(plan: ExportPlan, out: Path, cancel: CancelToken) -> Job[None]:
    """cells.csv, and the images in images/ so the folder stands alone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    total = len(plan.images)
    for number, image in enumerate(plan.images, start=1):
        cancel.raise_if_cancelled()
        name = f"images/{image.file_name}"
        if plan.copy_images:
            atomic_copy(image.source, path_inside(out, "images", image.file_name, what=f"slide {image.slide.path}"))
        slide = image.slide
        # Free text goes through spreadsheet_text: a value a spreadsheet would
        # run as a formula is written as text.  Numbers stay numbers.
        common = (spreadsheet_text(name), slide.width, slide.height)
        split = spreadsheet_text(image.split or "")
        if not image.cells:
            writer.writerow([*common, "", "", "", "", "", "", "", "", "", "", split, *screen_columns.EMPTY_ROW])
        for cell, _ in image.cells:
            probability = cell.probabilities.get(cell.label) if cell.label else None
            if not isinstance(probability, (int, float)) or not is_probability(float(probability)):
                probability = None  # a project's NaN or 7.5 is no probability; not passed on
            writer.writerow(
                [
                    *common,
                    cell.id,
                    *(format_number(value) for value in cell.box.as_tuple()),
                    cell.kind.value,
                    spreadsheet_text(cell.label or ""),
                    "" if probability is None else repr(float(probability)),
                    spreadsheet_text(cell.source.value),
                    "true" if cell.reviewed else "false",
                    split,
                    *screen_columns.screen_row(cell),
                ]
            )
        if number % 16 == 0 or number == total:
            yield Progress(number, total, f"wrote {number} of {total} images to CSV")
    atomic_write_text(path_inside(out, FILE_NAME), buffer.getvalue())
