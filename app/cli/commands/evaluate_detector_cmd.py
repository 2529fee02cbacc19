"""hemalabel evaluate-detector SRC [--format voc|yolo] [--split NAME] [--model M] [--json]"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.output import fail, print_json, print_progress, reports_user_errors, with_interval
from core.jobs import run_job

NAME = "evaluate-detector"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME,
        help="score the cell detector against VOC or YOLO ground truth",
        description="AP50 and AP50:95 per class (white, red, platelet), and precision and recall at IoU 0.5 "
        "for the detections above the model's operating thresholds.",
    )
    parser.add_argument("source", metavar="SRC", type=Path, help="folder laid out as BCCD (VOC) or TXL-PBC (YOLO)")
    parser.add_argument("--format", choices=("auto", "voc", "yolo"), default="auto")
    parser.add_argument("--split", metavar="NAME", help="evaluate only this split (train, val or test)")
    parser.add_argument("--model", metavar="M",
                        help="detector card, weights, their folder or a model name such as cell-detector "
                        "(default: user-trained, else bundled)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.detection.assess import evaluate_detector
    from core.detection.data import read_ground_truth
    from core.detection.detector import KerasCellDetector
    from core.formats import voc, yolo
    from core.models.files import ModelCardError

    source = args.source
    if not source.is_dir():
        return fail(f"{source}: not a folder")
    fmt = args.format
    if fmt == "auto":
        if voc.looks_like_voc(source):
            fmt = "voc"
        elif yolo.looks_like_yolo(source):
            fmt = "yolo"
        else:
            return fail(f"{source}: neither Pascal VOC (Annotations/ with XML files) nor YOLO (labels/ beside "
                        "images/, with data.yaml, classes.txt or obj.names); laid out as BCCD or TXL-PBC?")
    samples = read_ground_truth(source, fmt, args.split)
    if not samples:
        split = f" in split {args.split!r}" if args.split else ""
        return fail(f"{source}: no annotated images{split}")
    try:
        detector = KerasCellDetector.load(args.model)
    except ModelCardError as error:
        return fail(str(error))
    result = run_job(evaluate_detector(detector, samples), print_progress)
    result = {"source": str(source), "format": fmt, "split": args.split, **result}
    if args.json:
        print_json(result)
        return 0
    print(f"{detector.version} on {source} ({fmt}{', ' + args.split if args.split else ''}): {result['images']} images")
    print(f"{'class':<10}{'AP50':>22}{'AP50:95':>9}{'recall':>22}{'precision':>22}{'thresh':>8}")
    for name, m in result["per_class"].items():
        print(
            f"{name:<10}{with_interval(m, 'ap50'):>22}{m['ap50_95']:>9.3f}{with_interval(m, 'recall'):>22}"
            f"{with_interval(m, 'precision'):>22}{m['threshold']:>8.3f}"
        )
    print("[in brackets: 95% interval, bootstrap over the images]")
    print(f"median latency per image: {result['median_latency_ms']:.1f} ms")
    for item in result["skipped"]:
        print(f"  skipped {item['path']}: {item['reason']}")
    return 0
