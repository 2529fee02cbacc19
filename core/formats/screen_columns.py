"""The lymphoid screen's verdict on each exported cell, as every format
gives it: P(blast), the suspected B-ALL subtype, the flag's state (none,
suspected, confirmed, dismissed: the store's own words) and the screen
model that said it.  A cell never screened gives nothing.

CSV adds the four columns at the end of each row; COCO and VOC add them
under `hemalabel_screen` on a screened cell's annotation; YOLO's label
files and crops' class folders have no room for them, so those exports
list them in screen.csv beside the files, when any exported cell was
screened."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.formats.common import atomic_write_text
from core.safe_output import path_inside, spreadsheet_text
from core.schema import Cell

SCREEN_COLUMNS = ("p_blast", "blast_subtype", "blast_flag", "screen_model")
SIDECAR_NAME = "screen.csv"
EMPTY_ROW = ("",) * len(SCREEN_COLUMNS)


def screen_fields(cell: Cell) -> dict[str, Any] | None:
    """The screen's columns of a cell by name (None: never screened)."""
    screen = cell.screen
    if screen is None:
        return None
    return {"p_blast": float(screen.p_blast), "blast_subtype": screen.subtype,
            "blast_flag": screen.flag.value, "screen_model": screen.model_version}


def screen_row(cell: Cell) -> list[str]:
    """The screen's columns as a CSV row's last cells, empty when never screened.
    The subtype and model name are free text, made safe for a spreadsheet."""
    fields = screen_fields(cell)
    if fields is None:
        return list(EMPTY_ROW)
    return [repr(fields["p_blast"]), *(spreadsheet_text(str(fields[name])) for name in SCREEN_COLUMNS[1:])]


def any_screened(cells: Sequence[Cell]) -> bool:
    return any(cell.screen is not None for cell in cells)


def write_sidecar(out: Path, key_columns: Sequence[str], rows: Sequence[tuple[Sequence[object], Cell]]) -> None:
    """screen.csv: each row's key (which file, which cell) and the screen's
    columns of its cell; written whole, under a temporary name first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*key_columns, *SCREEN_COLUMNS])
    for key, cell in rows:
        writer.writerow([*(spreadsheet_text(value) for value in key), *screen_row(cell)])
    atomic_write_text(path_inside(out, SIDECAR_NAME), buffer.getvalue())
