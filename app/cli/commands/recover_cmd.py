"""hemalabel recover --project P --out NEW [--json]"""

from __future__ import annotations

import argparse

from app.cli.output import EXIT_USER_ERROR, fail, print_json, reports_user_errors
from core.store import describe_location, is_server_address, resolve_project_path
from core.store_integrity import RecoveryError, recover_project

NAME = "recover"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="copy what is readable of a damaged project into a new project file",
        description="Copy every readable row of a damaged project, table by table and row by row, into a new "
        "project file, and say what could not be read. The damaged file is only read, never changed.",
    )
    parser.add_argument("--project", "-p", required=True, metavar="P", help="the damaged project file or its folder")
    parser.add_argument("--out", required=True, metavar="NEW", help="the new project file to write (must not exist)")
    parser.add_argument("--json", action="store_true", help="print what was recovered as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    for given in (args.project, args.out):
        if is_server_address(given):
            return fail(f"{describe_location(given)}: recover reads a damaged project file into a new file; a project "
                        "on a PostgreSQL server is restored from the server's own back-ups")
    try:
        report = recover_project(resolve_project_path(args.project), resolve_project_path(args.out))
    except RecoveryError as error:
        return fail(str(error))
    if args.json:
        print_json(report.as_dict())
    else:
        verdict = "everything was readable" if report.complete else "some of it was lost"
        print(f"Recovered {report.source} into {report.out}: {verdict}")
        for table in report.tables:
            print(f"  {table.describe()}")
        for note in report.notes:
            print(f"  note: {note}")
    return 0 if report.tables else EXIT_USER_ERROR
