"""hemalabel evaluate --images DIR [--model M] [--json]"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from app.cli.output import fail, print_json, reports_user_errors, with_interval

NAME = "evaluate"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="score a classifier on a class-folder tree of cell crops")
    parser.add_argument("--images", required=True, metavar="DIR", help="DIR/<class>/<crop image>")
    parser.add_argument("--model", "-m", metavar="M", help="model name or .keras path (default: the bundled model)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.classifier import ModelCardError, load_classifier
    from core.classifier.metrics import classification_report
    from core.imaging import ImageReadError, load_rgb
    from core.training.samples import DatasetError, from_class_folders

    try:
        classifier = load_classifier(args.model)
        skipped: list[tuple[str, str]] = []
        samples = from_class_folders(args.images, classifier.classes, skipped)
    except (ModelCardError, DatasetError) as error:
        return fail(str(error))
    crops, labels = [], []
    for sample in samples:
        try:
            crops.append(load_rgb(sample.path))
        except ImageReadError as error:
            skipped.append((str(sample.path), error.reason))
            continue
        labels.append(classifier.classes.index(sample.label))
    if not crops:
        return fail(f"{args.images}: no readable images in its class folders")
    logits = classifier.logits(crops)
    thresholds = [classifier.threshold_for(name) for name in classifier.classes]
    report = classification_report(logits, np.array(labels), classifier.classes, classifier.temperature, thresholds)
    report = {"model": classifier.version, "images": str(args.images), **report,
              "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    for path, reason in skipped:
        print(f"hemalabel: skipped {path}: {reason}", file=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    _print_report(report)
    return 0


def _print_report(report: dict) -> None:
    print(f"Model {report['model']} on {report['cells']} cells from {report['images']}")
    print(
        f"Accuracy {with_interval(report, 'accuracy', 4)}  balanced {with_interval(report, 'balanced_accuracy', 4)}  "
        f"macro-F1 {report['macro_f1']:.4f}  [in brackets: 95% interval]"
    )
    print(f"ECE {report['ece']:.4f} (before calibration {report['ece_before_calibration']:.4f}, T={report['temperature']:.3f})")
    print(f"Above threshold: accuracy {report['accuracy_above_threshold']:.4f}, coverage {report['coverage_above_threshold']:.4f} "
          f"({report['unidentified']} to Unidentified)")
    print(f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'n':>7}")
    for name, row in report["per_class"].items():
        print(f"{name:<14}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>7}")
    print("Confusion matrix (rows true, columns predicted):")
    for name, row in zip(report["classes"], report["confusion_matrix"]):
        print(f"{name:<14}" + "".join(f"{v:>6}" for v in row))
    if report["skipped"]:
        print(f"Skipped {len(report['skipped'])} unreadable images")
