"""hemalabel export --project P --format voc|coco|yolo|crops|csv --out DIR"""

from __future__ import annotations

import argparse

from app.cli.arguments import PROJECT_HELP, add_image_root_option, image_roots_of
from app.cli.output import fail, print_json, print_progress, reports_user_errors
from core.crops import DEFAULT_MARGIN
from core.exporting import (
    EXPORT_FORMATS,
    SLIDE_CHOICES,
    ExportError,
    ExportOptions,
    FolderNotEmptyError,
    export_dataset,
)
from core.jobs import run_job
from core.store import ProjectStore
from core.wording import counted

NAME = "export"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="write labelled data as Pascal VOC, COCO, YOLO, class-folder crops or CSV",
        description="Export the labelled cells of a project. Images are copied into the export "
        "so it stands alone; the project is only read.",
    )
    parser.add_argument("--project", "-p", required=True, metavar="P", help=PROJECT_HELP)
    add_image_root_option(parser)
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="dataset format")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write (must be empty or new)")
    parser.add_argument("--slides", default="all", choices=SLIDE_CHOICES,
                        help="which slides: all, reviewed (every cell reviewed, or signed off), signed-off")
    parser.add_argument("--classes", metavar="A,B",
                        help="keep only cells of these classes or kinds (white, red, platelet)")
    parser.add_argument("--split", metavar="TRAIN,VAL,TEST",
                        help="fractions of slides per split, e.g. 0.8,0.1,0.1 (by slide, never by cell)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split draw (default 0)")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help=f"crops: context around the box, a fraction of its longer side (default {DEFAULT_MARGIN})")
    parser.add_argument("--crop-size", type=int, metavar="PX", help="crops: resize every crop to PX x PX")
    parser.add_argument("--crop-format", default="png", choices=("png", "jpg"), help="crops: file format (default png)")
    parser.add_argument("--no-images", action="store_true", help="write annotations only, do not copy the images")
    parser.add_argument("--overwrite", action="store_true", help="write into a folder that is not empty")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    try:
        split = tuple(float(part) for part in args.split.split(",")) if args.split else None
    except ValueError:
        return fail(f"--split needs three numbers such as 0.8,0.1,0.1, not {args.split!r}")
    options = ExportOptions(
        format=args.format,
        slides=args.slides,
        classes=tuple(name.strip() for name in args.classes.split(",") if name.strip()) if args.classes else None,
        split=split,
        seed=args.seed,
        crop_margin=args.margin,
        crop_size=args.crop_size,
        crop_format=args.crop_format,
        copy_images=not args.no_images,
        overwrite=args.overwrite,
    )
    try:
        with ProjectStore.open(args.project, read_only=True) as store:
            store.image_roots = image_roots_of(args)
            report = run_job(export_dataset(store, args.out, options), print_progress)
    except FolderNotEmptyError as error:
        return fail(f"{error} (--overwrite)")
    except ExportError as error:
        return fail(str(error))
    if args.json:
        print_json(report.as_dict())
        return 0
    splits = ", ".join(f"{count} {name}" for name, count in report.splits.items())
    print(
        f"Exported {counted(report.slides, 'slide')} and {counted(report.cells, 'cell')} as {report.format} to "
        f"{report.out}"
        + (f" (slides: {splits})" if splits else "")
        + f" in {report.seconds:.1f} s"
    )
    for name, count in sorted(report.classes.items(), key=lambda item: -item[1]):
        print(f"    {name:<20} {count}")
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    for label, count in sorted(report.unknown_labels.items()):
        print(f"  {counted(count, 'cell')} labelled {label!r}, not a class of this project: exported under its kind")
    return 0
