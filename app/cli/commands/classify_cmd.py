"""hemalabel classify (--images DIR --out predictions.csv | --project P) [--model M]"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.cli.output import fail, print_json, print_progress, reports_user_errors
from core.formats.common import atomic_write_text

if TYPE_CHECKING:
    from core.store import ProjectStore

NAME = "classify"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="classify cell crops (--images) or a project's white cells")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR", help="folder of single-cell crops (searched recursively)")
    source.add_argument("--project", "-p", metavar="P", help="project whose white cells to classify")
    parser.add_argument("--out", metavar="CSV", help="predictions file (with --images)")
    parser.add_argument("--model", "-m", metavar="M", help="model name or .keras path (default: the bundled model)")
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.classifier import ModelCardError, load_classifier

    if args.images and not args.out:
        return fail("--images needs --out predictions.csv")
    try:
        if args.images:
            folder = Path(args.images)
            paths = _crop_files(folder)  # before the model, which takes seconds to load
            if not paths:
                return fail(f"{folder}: no images found (looked for JPEG, PNG, TIFF, BMP, in subfolders too)")
            summary = _classify_images(load_classifier(args.model), folder, paths, Path(args.out))
        else:
            from core.store import ProjectStore

            # The project before the model: one edited elsewhere is refused at once.
            with ProjectStore.open(args.project, editor=f"hemalabel {NAME}") as store:
                summary = _classify_project(load_classifier(args.model), store)
    except ModelCardError as error:
        return fail(str(error))
    if args.json:
        print_json(summary)
    else:
        print(", ".join(f"{key.replace('_', ' ')}: {_plain(value)}" for key, value in summary.items()))
    return 0


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{key} {count}" for key, count in value.items()) + ")" if value else "(none)"
    return str(value)


def _crop_files(folder: Path) -> list[Path]:
    from core.formats.folder import find_images

    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    return find_images(folder)


def _classify_images(classifier, folder: Path, paths: list[Path], out: Path) -> dict:
    from core.imaging import ImageReadError, load_rgb
    from core.inference import label_from_probabilities

    skipped: list[tuple[str, str]] = []
    rows: list[list[str]] = []
    chunk = 512  # bounded memory on large folders
    for start in range(0, len(paths), chunk):
        crops, kept = [], []
        for path in paths[start : start + chunk]:
            try:
                crops.append(load_rgb(path))
                kept.append(path)
            except ImageReadError as error:
                skipped.append((str(path), error.reason))
                print(f"hemalabel: skipped {path}: {error.reason}", file=sys.stderr)
        probabilities = classifier.predict(crops)
        for path, row in zip(kept, probabilities):
            top = np.argsort(-row)[:3]
            cells = [path.relative_to(folder).as_posix(), label_from_probabilities(classifier, row)]
            for index in top:
                cells += [classifier.classes[index], f"{row[index]:.4f}"]
            rows.append(cells)
    header = ["image", "label", "top1", "p1", "top2", "p2", "top3", "p3"]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(out, text.getvalue())  # never a half-written predictions file
    return {"model": classifier.version, "classified": len(rows), "skipped": len(skipped), "out": str(out)}


def _classify_project(classifier, store: ProjectStore) -> dict:
    from collections import Counter

    from core.inference import classify_slides
    from core.jobs import run_job
    from core.schema import CellKind

    slide_ids = [slide.id for slide in store.slides()]
    failures = run_job(classify_slides(store, classifier, slide_ids), print_progress)
    # What the white cells of the slides that could be read now say: the
    # model's labels, and the labels a human decided, which it keeps.
    unread = {failure.slide_id for failure in failures}
    labels = Counter(
        cell.label or "(unclassified)"
        for cell in store.cells(kind=CellKind.WHITE)
        if cell.slide_id not in unread
    )
    for failure in failures:
        print(f"hemalabel: skipped {failure.path}: {failure.reason}", file=sys.stderr)
    return {
        "model": classifier.version,
        "slides": len(slide_ids),
        "white_cells": sum(labels.values()),
        "labels": dict(labels.most_common()),
        "skipped": len(failures),
    }
