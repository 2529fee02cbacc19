"""hemalabel import SRC --project P [--format auto|folder|voc|yolo]"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.output import fail, print_json, print_progress, reports_user_errors
from core.importing import FORMATS, import_source
from core.jobs import run_job
from core.store import ProjectStore

NAME = "import"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="add images (and their annotations) to a project",
        description="Add a folder of images, Pascal VOC or YOLO annotations to a project, creating it if needed. "
        "Images are referenced where they are, never copied.",
    )
    parser.add_argument("source", metavar="SRC", help="folder to import")
    parser.add_argument("--project", "-p", required=True, metavar="P", help="project file (created if missing)")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="source format (default: detect)")
    parser.add_argument("--split", help="import only this split (train, val or test) of a VOC or YOLO source")
    parser.add_argument("--json", action="store_true", help="print the import report as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    if not Path(args.source).is_dir():
        return fail(f"{args.source}: not a folder")  # before a project file is created for nothing
    with ProjectStore.open_or_create(args.project) as store:
        report = run_job(import_source(store, args.source, args.format, split=args.split), print_progress)
    if args.json:
        print_json(report.as_dict())
        return 0
    print(
        f"Imported {report.source} ({report.format}): {report.slides_added} new slides, "
        f"{report.slides_existing} already in the project, {report.cells_added} cells added"
        + (f", {report.cells_duplicate} duplicates ignored" if report.cells_duplicate else "")
        + (f", white-cell type on {report.white_cell_types} fields" if report.white_cell_types else "")
    )
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    return 0
