"""hemalabel audit --project P [--slide S] [--user U] [--since DATE] [--until DATE] [--cell ID]
[--csv OUT] [--json]"""

from __future__ import annotations

import argparse
from datetime import date

from app.cli.arguments import PROJECT_HELP, checked
from app.cli.output import fail, print_json, reports_user_errors
from core.audit_trail import AuditFilter, AuditTrailError, audit_trail, write_audit_csv
from core.schema import Slide
from core.store import ProjectStore
from core.wording import counted

NAME = "audit"
_DAY = checked(date.fromisoformat, lambda _day: True, "a date as YYYY-MM-DD")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="show who changed which cell from what to what and when, and who signed slides off")
    parser.add_argument("--project", "-p", required=True, metavar="P", help=PROJECT_HELP)
    parser.add_argument("--slide", metavar="S", help="only this slide: its image path, image name or sample")
    parser.add_argument("--user", metavar="U", help="only this user's entries (initials or login, as shown)")
    parser.add_argument("--since", type=_DAY, metavar="DATE", help="from this day on (YYYY-MM-DD, this computer's)")
    parser.add_argument("--until", type=_DAY, metavar="DATE", help="up to and including this day (YYYY-MM-DD)")
    parser.add_argument("--cell", type=checked(int, lambda n: n > 0, "a cell id"), metavar="ID",
                        help="only this cell's changes")
    parser.add_argument("--csv", metavar="OUT", help="write the entries to OUT.csv instead of printing them")
    parser.add_argument("--json", action="store_true", help="print the entries as one JSON list")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    with ProjectStore.open_to_read(args.project) as store:
        slide_id = None
        if args.slide:
            matches = _slides_named(store, args.slide)
            if len(matches) != 1:
                found = "no slide" if not matches else f"{len(matches)} slides ({', '.join(s.path for s in matches)})"
                return fail(f"{store.path}: {found} named {args.slide!r}; give the image's path")
            slide_id = matches[0].id
        try:
            entries = audit_trail(store, AuditFilter(slide_id, args.user, args.since, args.until, args.cell))
            if args.csv:
                written = write_audit_csv(entries, args.csv)
        except AuditTrailError as error:
            return fail(str(error))
    if args.csv:
        print(f"Audit trail of {counted(len(entries), 'entry', 'entries')} written to {written}")
    elif args.json:
        print_json([entry.as_json() for entry in entries])
    else:
        for entry in entries:
            cell = f"cell {entry.cell_id}" if entry.cell_id is not None else "slide"
            undone = f"  [{entry.undone_text}]" if entry.undone else ""
            print(f"{entry.local_time}  {entry.user} on {entry.workstation}  {entry.slide}  {cell}  "
                  f"{entry.action}: {entry.change}{undone}")
        print(f"{counted(len(entries), 'entry', 'entries')}")
    return 0


def _slides_named(store: ProjectStore, name: str) -> list[Slide]:
    relative = store.relative_path(name)
    slides = store.slides()
    by_path = [slide for slide in slides if slide.path in (name, relative)]
    return by_path or [slide for slide in slides if name in (slide.image_name, slide.sample_id)]
