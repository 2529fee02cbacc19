"""hemalabel classify (--images DIR --out predictions.csv | --project P [--user INITIALS]) [--model M]
[--locate auto|off] [--learn auto|off]
hemalabel classify --project P --screen [--screen-model S] [--screen-all-white] [--json]"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.cli.arguments import add_image_root_option, add_locate_option, locator_for
from app.cli.output import fail, print_json, print_slide_progress, reports_user_errors
from app.cli.project_editing import add_user_option, misplaced_project_option, open_to_edit
from core.formats.common import atomic_write_text

if TYPE_CHECKING:
    from core.store import ProjectStore

NAME = "classify"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="classify cell crops (--images) or a project's white cells")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="DIR", help="folder of single-cell crops (searched recursively)")
    source.add_argument("--project", "-p", metavar="P", help="project whose white cells to classify")
    add_image_root_option(parser)
    add_user_option(parser)
    parser.add_argument("--out", metavar="CSV", help="predictions file (with --images)")
    parser.add_argument("--model", "-m", metavar="M", help="model name or .keras path (default: the bundled model)")
    add_locate_option(parser, "image (with --images)")
    parser.add_argument(
        "--learn",
        choices=("auto", "off"),
        default="auto",
        help="with --project: auto (default) predicts the unreviewed white cells again from what the "
        "project's reviewed cells teach, as the window does after each decision; off: the network alone",
    )
    screen = parser.add_argument_group("lymphoid screen (with --project)")
    screen.add_argument("--screen", action="store_true",
                        help="after classifying, screen the lymphocytes, monocytes and Unidentified white cells "
                             "for suspected blasts with the optional screen model and store the flags (done "
                             "without asking when the project's setting turns the screen on)")
    screen.add_argument("--screen-model", metavar="S", help="screen model name or path (default: lymphoid-screen)")
    screen.add_argument("--screen-all-white", action="store_true", help="screen every white cell")
    parser.add_argument("--json", action="store_true", help="print one JSON summary")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.classifier import load_classifier
    from core.models.files import ModelCardError

    if args.images and not args.out:
        return fail("--images needs --out predictions.csv")
    if (misplaced := misplaced_project_option(args)) is not None:
        return fail(misplaced)
    if args.images and args.screen:
        return fail("--screen works on a project's slides (--project P), not on a folder of crops")
    try:
        if args.images:
            folder = Path(args.images)
            paths = _crop_files(folder)  # before the model, which takes seconds to load
            if not paths:
                return fail(f"{folder}: no images found (looked for JPEG, PNG, TIFF, BMP, in subfolders too)")
            classifier = load_classifier(args.model)
            summary = _classify_images(classifier, locator_for(args.locate), folder, paths, Path(args.out))
        else:
            from core.screen.settings import load_screen_settings

            # The project before the model: one edited elsewhere is refused at once.
            with open_to_edit(args, NAME) as store:
                settings = load_screen_settings(store)
                screen_model = None
                if args.screen or settings.on:
                    screen_model = _screen_model(args.screen_model, asked=args.screen)
                all_white = args.screen_all_white or settings.all_white
                summary = _classify_project(load_classifier(args.model), store, screen_model, all_white, settings,
                                            learn=args.learn == "auto")
    except ModelCardError as error:
        return fail(str(error))
    if args.json:
        print_json(summary)
    else:
        screened = summary.pop("screen", None)
        kept_open = summary.pop("open_flags_kept", None)
        print(", ".join(f"{key.replace('_', ' ')}: {_plain(value)}" for key, value in summary.items()))
        if screened is not None:
            for slide in screened["slides"]:
                print(f"{slide['path']}: {slide['problem'] or slide['line']}")
            print(f"All slides: {screened['line']} ({screened['model']}, operating point {screened['threshold']:.4f})")
        if kept_open and kept_open["cells"]:
            print(kept_open["line"])
    return 0


def _screen_model(name: str | None, asked: bool):
    """The screen model, refused before minutes of classifying.  When only the
    project's setting asked for it, a missing one is said once and the
    classification goes on."""
    from core.models.files import ModelCardError
    from core.screen.model import load_screen_model

    try:
        return load_screen_model(name)
    except (ModelCardError, FileNotFoundError) as error:
        if asked:
            raise
        print(f"hemalabel: the project's lymphoid screen is on but its model cannot be used ({error}); "
              "classifying without it", file=sys.stderr)
        return None


def _screen_summary(model, threshold: float | None, results: list) -> dict:  # noqa: ANN001
    """What the screen found on the slides just classified."""
    suspected = sum(len(r.suspected) for r in results)
    lymphoid = sum(r.lymphoid_cells for r in results)
    return {
        "model": f"{model.card.name} {model.card.version}",
        "threshold": threshold,
        "line": f"Blasts suspected: {suspected} of {lymphoid} lymphoid cells",
        "suspected": suspected,
        "lymphoid_cells": lymphoid,
        "slides": [{"path": r.path, "line": r.summary_line(), "problem": r.problem, "lymphoid_cells": r.lymphoid_cells,
                    "suspected": [{"cell": cell_id, "p_blast": round(v.p_blast, 4), "subtype": v.subtype}
                                  for cell_id, v in r.suspected]} for r in results],
    }


def _plain(value: object) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{key} {count}" for key, count in value.items()) + ")" if value else "(none)"
    return str(value)


def _crop_files(folder: Path) -> list[Path]:
    from core.formats.folder import find_images

    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    return find_images(folder)


def _classify_images(classifier, locator, folder: Path, paths: list[Path], out: Path) -> dict:
    from core.inference import label_from_probabilities
    from core.locating import LocateCounts, classifier_view, read_and_locate

    skipped: list[tuple[str, str]] = []
    rows: list[list[str]] = []
    counts = LocateCounts()
    chunk = 512  # bounded memory on large folders
    for start in range(0, len(paths), chunk):
        views, kept = [], []
        for read in read_and_locate(paths[start : start + chunk], locator):
            if read.image is None or read.cell is None:
                skipped.append((str(read.path), read.error or "unreadable"))
                print(f"hemalabel: skipped {read.path}: {read.error}", file=sys.stderr)
                continue
            counts.add(read.cell)
            views.append(classifier_view(read.image, read.cell, classifier.crop_margin))
            kept.append(read)
        probabilities = classifier.predict(views)
        for read, row in zip(kept, probabilities):
            top = np.argsort(-row)[:3]
            cells = [read.path.relative_to(folder).as_posix(), label_from_probabilities(classifier, row)]
            for index in top:
                cells += [classifier.classes[index], f"{row[index]:.4f}"]
            box = read.cell.box
            cells += [f"{box.x0:.1f}", f"{box.y0:.1f}", f"{box.x1:.1f}", f"{box.y1:.1f}", read.cell.placement.value]
            rows.append(cells)
    # The cell's box and how it was found come last, so readers of the
    # first eight columns are unchanged.
    header = ["image", "label", "top1", "p1", "top2", "p2", "top3", "p3", "x0", "y0", "x1", "y1", "cell"]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(out, text.getvalue())  # never a half-written predictions file
    summary = {"model": classifier.version, "classified": len(rows), "skipped": len(skipped), "out": str(out)}
    if locator is not None:
        summary["cells_found"] = counts.as_dict()
    return summary


def _classify_project(classifier, store: ProjectStore, screen_model, all_white: bool, settings,  # noqa: ANN001
                      learn: bool = True) -> dict:
    """Classify (and screen, with a screen model) through core's one door,
    as the window does, then teach from the project's reviewed cells."""
    from collections import Counter

    from core.jobs import run_job
    from core.project_learning import ProjectTeacher
    from core.schema import CellKind
    from core.screen.after_classifying import classify_and_screen

    slide_ids = [slide.id for slide in store.slides()]
    threshold = None if screen_model is None else settings.threshold(screen_model.threshold)
    after = run_job(classify_and_screen(store, classifier, slide_ids, screen_model, all_white, threshold),
                    print_slide_progress)
    failures = after.failures
    taught = ProjectTeacher(store, classifier).teach() if learn else None
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
    summary = {
        "model": classifier.version,
        "slides": len(slide_ids),
        "white_cells": sum(labels.values()),
        "labels": dict(labels.most_common()),
        "skipped": len(failures),
        "taught_by": taught.taught if taught is not None and taught.weight > 0 else 0,
        "taught_predictions": len(taught.predictions) if taught is not None else 0,
    }
    if screen_model is not None:
        summary["screen"] = _screen_summary(screen_model, threshold, after.slides)
    summary["open_flags_kept"] = {"cells": after.kept_open, "line": after.kept_open_line()}
    return summary
