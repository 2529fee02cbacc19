"""hemalabel info --project P [--json] [--image-root OLD=NEW ...]"""

from __future__ import annotations

import argparse

from app.cli.arguments import PROJECT_HELP, add_image_root_option, image_roots_of
from app.cli.output import print_json, reports_user_errors
from core.missing_images import missing_image_folders
from core.store import ProjectStore

NAME = "info"
MAX_SAMPLES_LISTED = 20  # a project of hundreds of fields would push the counts off the screen


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="count slides and cells in a project")
    parser.add_argument("--project", "-p", required=True, metavar="P", help=PROJECT_HELP)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_image_root_option(parser)
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    with ProjectStore.open_to_read(args.project) as store:
        store.image_roots = image_roots_of(args)
        summary = store.summary()
        missing = missing_image_folders(store)
    summary["missing_images"] = [
        {"folder": str(group.looked_in), "stored_folder": group.stored, "slides": len(group.slide_ids),
         "folder_state": group.state, "message": group.message()}
        for group in missing
    ]
    if args.json:
        print_json(summary)
        return 0
    read_only = " (read-only)" if summary["read_only"] else ""
    if summary["edited_elsewhere_by"]:
        read_only = f" (read-only: open for editing in {summary['edited_elsewhere_by']})"
    print(f"Project {summary['project']} (schema v{summary['schema_version']}){read_only}")
    server = summary["server"]
    if server is not None:
        rights = "may write" if server["may_write"] else "may only read (no INSERT, UPDATE, DELETE on its tables)"
        print(f"Server: PostgreSQL {server['version']}; user {server['user']} {rights}")
    statuses = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in summary["slides_by_status"].items())
    print(f"Slides: {summary['slides']} ({statuses})")
    if missing:
        # One line per folder: an unmounted share is one line, not a line per slide.
        print(f"Images missing: {sum(len(group.slide_ids) for group in missing)} of {summary['slides']} slides")
        for group in missing:
            print(f"    {group.message()}")
        print("    (--image-root OLD=NEW tells a command where such a folder is on this computer)")
    samples = list(summary["samples"].items())
    for path, sample in samples[:MAX_SAMPLES_LISTED]:
        print(f"    Sample {sample}: {path}")
    if len(samples) > MAX_SAMPLES_LISTED:
        print(f"    ... and {len(samples) - MAX_SAMPLES_LISTED} more (--json lists every sample)")
    for kind, count in summary["cells"].items():
        print(f"{kind.capitalize()} cells: {count} ({summary['reviewed'][kind]} reviewed)")
        for label, n in sorted(summary["classes"][kind].items(), key=lambda item: -item[1]):
            print(f"    {label:<20} {n}")
    total = summary["differential"]["total"]
    print(f"Differential (all slides): {total['counted']} white cells counted, {total['unidentified']} Unidentified, "
          f"{total['unreviewed_white']} not reviewed")
    print(f"Fields with a white-cell type: {summary['slides_with_white_cell_type']}")
    print(f"Corrections queued for retraining: {summary['queued_corrections']}")
    if summary["lymphoid_screen"]["screened"]:
        print(f"Lymphoid screen: {summary['lymphoid_screen']['line']}")
    return 0
