"""BCCD's wbc_subtypes.csv: the white-cell type(s) of each field.

The CSV names types per field, not per box, and lists several in no
particular order when a field has several white cells.  So a type is given to
a white cell only when the field has exactly one white box and one type:
anything else would be a guess presented as a label."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

from core.formats.common import AnnotationError, ImportPlan, read_text
from core.schema import CellKind
from core.taxonomy import Taxonomy

FILE_NAME = "wbc_subtypes.csv"


def read_subtypes(path: Path) -> dict[str, list[str]]:
    """Image stem (BloodImage_NNNNN) -> the listed types, upper-case."""
    subtypes: dict[str, list[str]] = {}
    # UTF-8, or the Windows code page a spreadsheet saved it in.
    reader = csv.reader(io.StringIO(read_text(path, spreadsheet=True), newline=""))
    try:
        header = next(reader, None)
        if header is None or "Image" not in header or "Category" not in header:
            raise AnnotationError(path, "line 1", "expected columns 'Image' and 'Category'")
        image_column, category_column = header.index("Image"), header.index("Category")
        for number, row in enumerate(reader, start=2):
            if not row or all(not field.strip() for field in row):
                continue
            try:
                image_number = int(row[image_column])
            except (ValueError, IndexError):
                raise AnnotationError(path, f"line {number}", f"'Image' must be a number, found {row!r}") from None
            category = row[category_column] if category_column < len(row) else ""
            types = [part.strip() for part in category.split(",") if part.strip()]
            subtypes[f"BloodImage_{image_number:05d}"] = types
    except csv.Error as error:
        raise AnnotationError(path, f"line {reader.line_num}", f"malformed CSV ({error})") from None
    return subtypes


def apply_subtypes(plan: ImportPlan, subtypes: dict[str, list[str]], taxonomy: Taxonomy, source: Path) -> int:
    """Label the single white cell of each field with one listed type.
    Returns how many fields got a type."""
    labelled = 0
    unknown: set[str] = set()
    for image in plan.images:
        types = subtypes.get(image.path.stem, [])
        white = [index for index, box in enumerate(image.boxes) if box.kind is CellKind.WHITE]
        if len(white) != 1 or len(types) != 1:
            continue
        label = taxonomy.match(types[0])
        if label is None:
            unknown.add(types[0])
            continue
        index = white[0]
        image.boxes[index] = replace(image.boxes[index], kind=CellKind.WHITE, label=label)
        labelled += 1
    if unknown:
        plan.warnings.append(f"{source}: white-cell types not in the taxonomy, left unlabelled: {sorted(unknown)}")
    return labelled
