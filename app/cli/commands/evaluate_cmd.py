"""hemalabel evaluate --images DIR [--model M] [--locate auto|off] [--json]
hemalabel evaluate --screen --images DIR [--model SCREEN] [--json]"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from app.cli.arguments import add_locate_option, locator_for
from app.cli.output import fail, print_json, reports_user_errors, with_interval

NAME = "evaluate"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="score a classifier on a class-folder tree of cell crops")
    parser.add_argument("--images", required=True, metavar="DIR", help="DIR/<class>/<crop image>")
    parser.add_argument("--model", "-m", metavar="M", help="model name or .keras path (default: the bundled model)")
    add_locate_option(parser, "image (without its folder's class, as classify finds it)")
    parser.add_argument("--screen", action="store_true",
                        help="score the lymphoid screen on DIR/<benign|early|pre|pro>/<field image>; --model then "
                             "names the screen model (default: lymphoid-screen)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    if args.screen:
        return run_screen(args)
    from core.classifier import load_classifier
    from core.classifier.metrics import classification_report
    from core.classifier.preprocess import resize_square
    from core.locating import LocateCounts, classifier_view, read_and_locate
    from core.models.files import ModelCardError
    from core.training.samples import DatasetError, from_class_folders

    try:
        classifier = load_classifier(args.model)
        skipped: list[tuple[str, str]] = []
        samples = from_class_folders(args.images, classifier.classes, skipped)
        locator = locator_for(args.locate)
    except (ModelCardError, DatasetError) as error:
        return fail(str(error))
    crops, labels = [], []
    counts = LocateCounts()
    size = classifier.card.input_size
    # Found without the folder's class, as classify --images finds it: the
    # score is what a user of classify gets, not a figure helped by the answer.
    for sample, read in zip(samples, read_and_locate([s.path for s in samples], locator)):
        if read.image is None or read.cell is None:
            skipped.append((str(read.path), read.error or "unreadable"))
            continue
        counts.add(read.cell)
        # At the input size at once: a folder of whole images held as read
        # would take gigabytes.
        crops.append(resize_square(classifier_view(read.image, read.cell, classifier.crop_margin), size))
        labels.append(classifier.classes.index(sample.label))
    if not crops:
        return fail(f"{args.images}: no readable images in its class folders")
    logits = classifier.logits(np.stack(crops))
    thresholds = [classifier.threshold_for(name) for name in classifier.classes]
    report = classification_report(logits, np.array(labels), classifier.classes, classifier.temperature, thresholds)
    report = {"model": classifier.version, "images": str(args.images), **report,
              "locate": args.locate, "cells_found": counts.as_dict(),
              "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    for path, reason in skipped:
        print(f"hemalabel: skipped {path}: {reason}", file=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    _print_report(report, counts.describe() if locator is not None else None)
    return 0


def _print_report(report: dict, found: str | None) -> None:
    print(f"Model {report['model']} on {report['cells']} cells from {report['images']}")
    if found:
        print(f"Cells: {found}")
    print(
        f"Accuracy {with_interval(report, 'accuracy', 4)}  balanced {with_interval(report, 'balanced_accuracy', 4)}  "
        f"macro-F1 {report['macro_f1']:.4f}  [in brackets: 95% interval]"
    )
    print(
        f"ECE {report['ece']:.4f} (before calibration {report['ece_before_calibration']:.4f}, "
        f"T={report['temperature']:.3f}; a perfectly calibrated model would show {report['ece_floor'][0]:.4f} "
        f"on as many cells, up to {report['ece_floor'][1]:.4f})"
    )
    print(
        f"Above threshold: accuracy {report['accuracy_above_threshold']:.4f}, coverage "
        f"{report['coverage_above_threshold']:.4f} "
        f"({report['unidentified']} to Unidentified)"
    )
    print(f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'n':>7}")
    for name, row in report["per_class"].items():
        print(f"{name:<14}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>7}")
    print("Confusion matrix (rows true, columns predicted):")
    for name, row in zip(report["classes"], report["confusion_matrix"]):
        print(f"{name:<14}" + "".join(f"{v:>6}" for v in row))
    if report["skipped"]:
        print(f"Skipped {len(report['skipped'])} unreadable images")


def run_screen(args: argparse.Namespace) -> int:
    from core.detection.detector import KerasCellDetector
    from core.jobs import run_job
    from core.models.files import ModelCardError
    from core.screen.evaluation import evaluate_folder
    from core.screen.model import load_screen_model
    from core.training.samples import DatasetError

    skipped: list[tuple[str, str]] = []
    try:
        model = load_screen_model(args.model)
        report = run_job(evaluate_folder(model, args.images, KerasCellDetector.load(), skipped))
    except (ModelCardError, DatasetError, ValueError) as error:
        return fail(str(error))
    report["skipped"] = [{"path": p, "reason": r} for p, r in skipped]
    for path, reason in skipped:
        print(f"hemalabel: skipped {path}: {reason}", file=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    print_screen_report(report)
    return 0


def _share(entry: dict) -> str:
    if entry["value"] is None:
        return "n/a (none)"
    low, high = entry["ci95"]
    return f"{entry['value']:.3f} [{low:.3f}-{high:.3f}] ({entry['count']} of {entry['of']})"


def print_screen_report(report: dict) -> None:
    """The screen's figures as text: field level first, since a lab acts on fields."""
    print(f"Screen {report['model']} on {report['fields']} fields from {report['images']} "
          f"(operating point P(blast) >= {report['threshold']:.4f}; [in brackets: 95% interval])")
    empty = {k: v for k, v in report["fields_without_white_cell"].items() if v}
    if empty:
        print(f"Fields with no white cell found (never suspected): {empty}")
    auc = report["field_roc_auc"]
    print(f"Fields: sensitivity {_share(report['field_sensitivity'])}, specificity "
          f"{_share(report['field_specificity'])}, ROC AUC "
          + (f"{auc['value']:.3f} [{auc['ci95'][0]:.3f}-{auc['ci95'][1]:.3f}]" if auc["value"] is not None else "n/a"))
    for label, entry in report["fields_suspected_by_diagnosis"].items():
        if entry["of"]:
            print(f"  suspected among {label}: {_share(entry)}")
    auc = report["cell_roc_auc"]
    print(f"Cells ({report['cells']}, each labelled by its field): sensitivity {_share(report['cell_sensitivity'])}, "
          f"specificity {_share(report['cell_specificity'])}, ROC AUC "
          + (f"{auc['value']:.3f} [{auc['ci95'][0]:.3f}-{auc['ci95'][1]:.3f}]" if auc["value"] is not None else "n/a"))
    print(f"Subtype of malignant fields: accuracy {_share(report['subtype_accuracy'])}")
    print("Subtype confusion (rows true, columns predicted): " + " ".join(report["subtypes"]))
    for name, row in zip(report["subtypes"], report["subtype_confusion"]):
        print(f"{name:<8}" + "".join(f"{v:>6}" for v in row))
