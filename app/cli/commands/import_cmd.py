"""hemalabel import SRC --project P [--format auto|folder|voc|yolo|coco|crops|csv]
    [--map OLD=NEW ...] [--skip-unknown]"""

from __future__ import annotations

import argparse
import contextlib

from app.cli.arguments import PROJECT_HELP, add_image_root_option, add_locate_option
from app.cli.output import EXIT_USER_ERROR, fail, print_json, print_progress, reports_user_errors
from app.cli.project_editing import add_user_option, open_to_edit
from core.importing import FORMATS, ImportReport, UnknownClassesError, import_source
from core.jobs import run_job
from core.store import ProjectStore, StoreError, locate_project, project_exists
from core.store.address import ProjectLocation
from core.wording import counted, counted_verb

NAME = "import"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="add images (and their annotations) to a project",
        description="Add a folder of images, or labelled data (Pascal VOC, YOLO, COCO, class-folder crops, CSV) "
        "to a project, creating it if needed. Images are referenced where they are, never copied. "
        "An import is applied whole or not at all; images already in the project get the new boxes.",
    )
    parser.add_argument("source", metavar="SRC", help="folder to import (or a COCO .json / .csv file)")
    parser.add_argument("--project", "-p", required=True, metavar="P",
                        help=PROJECT_HELP + " (a file is made if missing; a database must exist, empty)")
    add_image_root_option(parser)
    add_user_option(parser)
    parser.add_argument("--format", default="auto", choices=FORMATS, help="source format (default: detect)")
    parser.add_argument("--split", help="import only this split (train, val or test) of a split source")
    parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                        help="read the source's class OLD as project class NEW (repeatable)")
    parser.add_argument("--skip-unknown", action="store_true", help="leave out boxes of classes the project lacks")
    parser.add_argument("--crop-margin", type=float, metavar="M",
                        help="crops: the margin the crops were cut with (default: as the export recorded, else 0)")
    add_locate_option(parser, "crop whose margin was not recorded (--format crops)")
    parser.add_argument("--json", action="store_true", help="print the import report as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    class_map = {}
    for item in args.map:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            return fail(f"--map needs OLD=NEW, not {item!r}")
        class_map[old.strip()] = new.strip()
    project = locate_project(args.project)
    created = not project_exists(project)
    try:
        report = _import(args, class_map)
    except BaseException:
        if created:
            _remove_new_project(project)  # a refused import leaves no empty project behind
        raise
    if report is None:
        if created:
            _remove_new_project(project)
        return EXIT_USER_ERROR
    status = _print_report(args, report)
    if _nothing_imported(report):
        # Every image was skipped: the summary says why, and the exit code
        # says it failed, so a script does not go on with an empty project.
        if created:
            _remove_new_project(project)
        return fail(
            f"{args.source}: nothing imported; {counted_verb(len(report.skipped), 'image', 'was', 'were')} skipped"
        )
    return status


def _nothing_imported(report: ImportReport) -> bool:
    return bool(report.skipped) and report.slides_added == 0 and report.slides_existing == 0


def _import(args: argparse.Namespace, class_map: dict[str, str]) -> ImportReport | None:
    with open_to_edit(args, NAME, or_create=True) as store:
        job = import_source(
            store,
            args.source,
            args.format,
            split=args.split,
            class_map=class_map,
            skip_unknown=args.skip_unknown,
            crop_margin=args.crop_margin,
            locate=args.locate,
        )
        try:
            return run_job(job, print_progress)
        except UnknownClassesError as error:
            fail(f"{error}: add --map OLD=NEW for each (NEW one of {', '.join(store.taxonomy.names)}, "
                 "WBC, RBC, Platelets) or --skip-unknown")
            return None


def _remove_new_project(project: ProjectLocation) -> None:
    # Left as it is where it cannot be removed: the import's own error is the one to report.
    with contextlib.suppress(OSError, StoreError):
        ProjectStore.drop_new_project(project)


def _print_report(args: argparse.Namespace, report: ImportReport) -> int:
    if args.json:
        print_json(report.as_dict())
        return 0
    print(
        f"Imported {report.source} ({report.format}): {counted(report.slides_added, 'new slide')}, "
        f"{report.slides_existing} already in the project, {counted(report.cells_added, 'cell')} added"
        + (f", {report.cells_duplicate} duplicates ignored" if report.cells_duplicate else "")
        + (f", white-cell type on {counted(report.white_cell_types, 'field')}" if report.white_cell_types else "")
    )
    if report.cells_found is not None:
        print(f"  cells: {report.cells_found.describe()}")
    if report.backup:
        print(f"  the project as it was before this import: {report.backup}")
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    return 0
