"""hemalabel migrate --from P --to Q [--json]"""

from __future__ import annotations

import argparse
import contextlib

from app.cli.output import print_json, reports_user_errors
from core.store import ProjectStore, StoreError
from core.store.project_copy import copy_project
from core.wording import counted

NAME = "migrate"
# Each table's rows in words: (one, many).
_NOUNS = {"meta": ("setting", "settings"), "slides": ("slide", "slides"), "cells": ("cell", "cells"),
          "edits": ("undo step", "undo steps"), "changes": ("cell change", "cell changes"),
          "corrections": ("queued correction", "queued corrections"),
          "audit": ("audit entry", "audit entries")}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="copy a project, history included, between a project file and a PostgreSQL database",
        description="Copy a whole project into a new one: slides, cells, undo history, the correction queue and "
                    "the audit trail, ids kept. Either side may be a project file or a postgresql:// address "
                    "(the database made empty by the administrator; the password in libpq's password file or a "
                    "service file, never in the address). The source is left as it was.")
    parser.add_argument("--from", dest="source", required=True, metavar="P", help="the project to copy")
    parser.add_argument("--to", dest="target", required=True, metavar="Q",
                        help="a new project file, or an empty PostgreSQL database")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    # The source is opened for editing: its lock keeps other windows from
    # changing it while it is read (a server project is read in one snapshot),
    # and names this command to them, as every command's lock does.
    editor = f"hemalabel {NAME}"
    with ProjectStore.open(args.source, editor=editor) as source:
        target = ProjectStore.create(args.target, taxonomy=source.taxonomy, editor=editor, identity=source.identity)
        try:
            copied = copy_project(source, target)
        except BaseException:
            target.close()
            _remove_new_project(args.target)
            raise
        target.close()
    if args.json:
        print_json(copied.as_json())
        return 0
    counts = ", ".join(counted(table.rows, noun, plural) for table in copied.tables
                       for noun, plural in [_NOUNS[table.name]] if table.name != "meta")
    print(f"Copied {copied.source} to {copied.target}: {counts}; every table read back equal")
    return 0


def _remove_new_project(target: str) -> None:
    """A copy that failed leaves no half-made project behind."""
    with contextlib.suppress(StoreError):
        ProjectStore.drop_new_project(target)
