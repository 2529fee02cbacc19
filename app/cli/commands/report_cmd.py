"""hemalabel report --project P --out FILE.pdf|FILE.csv [--slide PATH ...]"""

from __future__ import annotations

import argparse

from app.cli.arguments import PROJECT_HELP, add_image_root_option, image_roots_of
from app.cli.output import fail, reports_user_errors
from core.report import ReportError, write_report
from core.store import ProjectStore
from core.wording import counted

NAME = "report"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="write the differential-count report (PDF or CSV)")
    parser.add_argument("--project", "-p", required=True, metavar="P", help=PROJECT_HELP)
    add_image_root_option(parser)
    parser.add_argument("--out", required=True, metavar="FILE", help="FILE.pdf or FILE.csv")
    parser.add_argument(
        "--slide", action="append", metavar="PATH", help="report only this slide (its image path); repeatable"
    )
    parser.add_argument("--signed-off", action="store_true", help="report only signed-off slides")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    with ProjectStore.open_to_read(args.project) as store:
        store.image_roots = image_roots_of(args)
        slides = store.slides()
        if args.slide:
            wanted = {store.relative_path(path) for path in args.slide} | set(args.slide)
            slides = [slide for slide in slides if slide.path in wanted]
            if not slides:
                return fail(f"{store.path}: none of the slides {args.slide} is in the project")
        if args.signed_off:
            slides = [slide for slide in slides if slide.signed_off_by]
        try:
            written = write_report(store, args.out, [slide.id for slide in slides])
        except ReportError as error:
            return fail(str(error))
    print(f"Report of {counted(len(slides), 'slide')} written to {written}")
    return 0
