"""hemalabel detect (--project P [--user INITIALS] | --images DIR --out OUT) [--model M] [--format voc|csv]"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.arguments import PROJECT_HELP, add_image_root_option
from app.cli.output import fail, print_json, print_slide_progress, reports_user_errors
from app.cli.project_editing import add_user_option, misplaced_project_option, open_to_edit
from core.jobs import run_job
from core.wording import counted

if TYPE_CHECKING:
    from core.inference import CellDetector
    from core.store import ProjectStore

NAME = "detect"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="propose white cells, red cells and platelets",
        description="Detect cells on every slide of a project (written as unreviewed model proposals), "
        "or on a folder of images (written as Pascal VOC XML or one CSV).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--project", "-p", metavar="P", help=PROJECT_HELP)
    add_image_root_option(parser)
    add_user_option(parser)
    source.add_argument("--images", type=Path, metavar="DIR", help="folder of images (searched recursively)")
    parser.add_argument("--out", type=Path, metavar="OUT", help="with --images: output folder (VOC) or .csv file")
    parser.add_argument(
        "--format",
        choices=("auto", "voc", "csv"),
        default="auto",
        help="with --images: VOC folder or CSV (auto: CSV if OUT ends in .csv)",
    )
    parser.add_argument("--model", metavar="M",
                        help="detector card, weights, their folder or a model name such as cell-detector "
                        "(default: user-trained, else bundled)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    if args.images is not None and args.out is None:
        return fail("--images needs --out (a folder for VOC XML or a .csv file)")
    if (misplaced := misplaced_project_option(args)) is not None:
        return fail(misplaced)
    if args.project is not None and args.out is not None:
        return fail("--out goes with --images; with --project the proposals are written into the project")
    from core.detection.detector import KerasCellDetector
    from core.models.files import ModelCardError

    try:
        if args.project is not None:
            # The project before the model: one edited elsewhere is refused at once.
            with open_to_edit(args, NAME) as store:
                return _detect_project(args, store, KerasCellDetector.load(args.model))
        # The folder before the model, which takes seconds to load.
        return _detect_folder(args, lambda: KerasCellDetector.load(args.model))
    except ModelCardError as error:
        return fail(str(error))


def _detect_project(args: argparse.Namespace, store: ProjectStore, detector: CellDetector) -> int:
    from core.detection.familiarity import slide_colour_turn, slide_is_unlike, slide_was_judged, unlike_sentence
    from core.detection.magnification import resized_sentence, resized_summary, slide_magnification
    from core.detection.proposal_learning import taught_by_corrections, taught_sentence
    from core.inference import detect_slides

    slide_ids = [slide.id for slide in store.slides()]
    failures = run_job(detect_slides(store, detector, slide_ids), print_slide_progress)
    summary = store.summary()
    failed = {f.slide_id for f in failures}
    detected = [slide for slide in store.slides() if slide.id not in failed]  # as the run left them
    judged = [slide for slide in detected if slide_was_judged(slide)]
    turns = {slide.path: slide_colour_turn(slide) for slide in judged if slide_is_unlike(slide)}
    unlike = list(turns)
    taught = taught_by_corrections(detected)
    scales = resized_summary([slide_magnification(slide, detector.version) for slide in detected])
    result = {
        "model": detector.version,
        "slides": len(slide_ids),
        "failed": [{"path": f.path, "reason": f.reason} for f in failures],
        "cells": summary["cells"],
        "judged": len(judged),
        "unlike_training": unlike,  # their proposals are unreliable
        "colours_turned": {path: turn for path, turn in turns.items() if turn is not None},
        "taught": taught,  # what the project's box corrections changed; null: nothing was learnt
        "magnification": scales,  # the slides looked at resized, as their red cells asked
    }
    if args.json:
        print_json(result)
    else:
        print(
            f"Detected cells on {len(slide_ids) - len(failures)} of {counted(len(slide_ids), 'slide')} with "
            f"{detector.version}"
        )
        if judged:
            print(unlike_sentence(len(unlike), len(judged)))
        for path in unlike:
            turned = f" (proposals found with its {turns[path]})" if turns[path] is not None else ""
            print(f"  unlike: {path}{turned}")
        if (resized := resized_sentence(scales)) is not None:
            print(resized)
        if taught is not None:
            print(taught_sentence(taught["removed"], taught["rekinded"], taught["slides"], taught["examples"]))
        for failure in failures:
            print(f"  skipped {failure.path}: {failure.reason}", file=sys.stderr)
    if slide_ids and len(failures) == len(slide_ids):
        return fail(f"{args.project}: detection failed on every slide ({counted(len(slide_ids), 'slide')})")
    return 0


def _detect_folder(args: argparse.Namespace, load_detector: Callable[[], CellDetector]) -> int:
    from core.detection.batch import detect_images, write_csv, write_voc
    from core.detection.familiarity import unlike_sentence
    from core.detection.magnification import resized_sentence, resized_summary
    from core.formats.folder import find_images

    root = args.images
    if not root.is_dir():
        return fail(f"{root}: not a folder")
    paths = find_images(root)
    if not paths:
        return fail(f"{root}: no images found (looked for JPEG, PNG, TIFF, BMP)")
    detector = load_detector()
    report = run_job(detect_images(detector, paths), print_slide_progress)
    as_csv = args.format == "csv" or (args.format == "auto" and args.out.suffix.lower() == ".csv")
    if as_csv:
        out_file = args.out if args.out.suffix.lower() == ".csv" else args.out / "detections.csv"
        written = write_csv(report, root, out_file)
    else:
        write_voc(report, root, args.out)
        written = args.out / "Annotations"
    judged = [image for image in report.images if image.verdict is not None]
    unlike = [image for image in judged if image.verdict is not None and image.verdict.unlike]
    scales = resized_summary([image.magnification for image in report.images])
    counts: dict[str, int] = {}
    for image in report.images:
        for detection in image.detections:
            counts[detection.kind.value] = counts.get(detection.kind.value, 0) + 1
    result = {
        "model": detector.version,
        "images": len(report.images),
        "skipped": [{"path": path, "reason": reason} for path, reason in report.skipped],
        "cells": counts,
        "written": str(written),  # the CSV file, or the folder of VOC files
        "judged": len(judged),
        "unlike_training": [str(image.path) for image in unlike],  # their proposals are unreliable
        # the unlike images whose proposals were found in turned colours, and how
        "colours_turned": {str(image.path): image.turn.describe() for image in unlike if image.turn is not None},
        "magnification": scales,  # the images looked at resized, as their red cells asked
    }
    if args.json:
        print_json(result)
    else:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
        print(f"Detected {counted(sum(counts.values()), 'cell')} ({kinds or 'none'}) on "
              f"{counted(len(report.images), 'image')}; wrote {written}")
        if judged:
            print(unlike_sentence(len(unlike), len(judged)))
        for image in unlike:
            turned = f" (proposals found with its {image.turn.describe()})" if image.turn is not None else ""
            print(f"  unlike: {image.path}{turned}")
        if (resized := resized_sentence(scales)) is not None:
            print(resized)
        for path, reason in report.skipped:
            print(f"  skipped {path}: {reason}", file=sys.stderr)
    if report.skipped and not report.images:
        return fail(f"{root}: detection failed on every image ({counted(len(report.skipped), 'image')})")
    return 0
