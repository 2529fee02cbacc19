"""hemalabel train-detector --data DIR --out DIR [--epochs N] [--width W] [--seed S] [--class-weights W,R,P]
[--min-visible F] [--ema-decay D] [--work-scale S] [--crop PX] [--bccd-negative-weights W,R,P]
[--init-from CARD] [--learning-rate LR] [--colour standard|strong] [--pbc-fields N]

Trains the cell detector (from scratch, or on from a trained one's weights)
on TXL-PBC train + BCCD train (test fields of either set kept out), and
optionally whole PBC images of its train split, picks thresholds on their val splits, and
writes cell-detector.keras and cell-detector.json.  This is the command that
reproduces the bundled detector (models/README.md, "Bundled cell detector")."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.arguments import checked, float_list
from app.cli.output import print_json, print_progress_lines, reports_user_errors

if TYPE_CHECKING:
    from core.detection.training import DetectorTrainingConfig

NAME = "train-detector"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="train the white/red/platelet cell detector (from scratch or on from a trained one)"
    )
    parser.add_argument("--data", required=True, type=Path, help="folder holding txl-pbc/ and bccd/")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the weights and model card into")
    parser.add_argument("--epochs", type=int, default=70)
    parser.add_argument("--width", type=int, default=48, help="network width (channels of the first stage)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--class-weights",
        type=_three_weights,
        metavar="W,R,P",
        help="heatmap loss weight of white cells, red cells and platelets (default: the bundled detector's, 1.5,1,2)",
    )
    parser.add_argument(
        "--min-visible",
        type=float,
        help=(
            "a box cut by a training crop stays a positive if this part of it is visible"
            " (default: the bundled detector's, 0.25)"
        ),
    )
    parser.add_argument(
        "--ema-decay",
        type=_decay,
        help="validate and save a moving average of the weights with this decay per step, 0 for the last step's "
        "weights (default: the bundled detector's, 0)",
    )
    parser.add_argument(
        "--work-scale",
        type=_work_scale,
        help="shrink factor from image to network pixels (default: the bundled detector's, 0.5); the tile overlap "
        "keeps its size in image pixels",
    )
    parser.add_argument(
        "--crop", type=_crop_side, help="side of a training crop in network pixels, a multiple of 32 (default: 256)"
    )
    parser.add_argument(
        "--bccd-negative-weights",
        type=_unit_weights,
        metavar="W,R,P",
        help="how much an unlabelled area of a BCCD image counts as background for white cells, red cells and "
        "platelets, each 0 to 1 (default: the bundled detector's, 1,0.3,1: BCCD leaves many red cells unlabelled)",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="CARD",
        help="start from this trained detector's weights (its card) instead of from scratch; its width rules",
    )
    parser.add_argument("--learning-rate", type=_positive, help="peak learning rate (default: 0.002)")
    parser.add_argument(
        "--colour",
        choices=("standard", "strong"),
        default="standard",
        help="colour augmentation: standard (small jitter, the bundled 2.2 recipe) or strong (hue turned by any "
        "angle, grey and channel-swapped crops, re-synthesised stain, contrast and blur, so colour alone cannot "
        "make a white cell)",
    )
    parser.add_argument(
        "--pbc-fields",
        type=_count,
        default=0,
        metavar="N",
        help="add N whole PBC images of each class of the classifier's PBC train split, with their OI-PBC boxes "
        "of every cell, as training fields (default: 0, none)",
    )
    parser.add_argument("--version", default="2", help="version written into the model card")
    parser.add_argument("--json", action="store_true", help="print the model card as JSON at the end")
    parser.set_defaults(handler=run)


_three_weights = checked(float_list, lambda v: len(v) == 3 and all(w > 0 for w in v), "three positive numbers W,R,P")
_unit_weights = checked(
    float_list, lambda v: len(v) == 3 and all(0 <= w <= 1 for w in v), "three numbers W,R,P from 0 to 1"
)
_work_scale = checked(float, lambda v: 0.0 < v <= 1.0, "a scale above 0 and at most 1")
_crop_side = checked(int, lambda v: v >= 64 and v % 32 == 0, "a multiple of 32 from 64 up")
_positive = checked(float, lambda v: v > 0, "a positive number")
_count = checked(int, lambda v: v >= 0, "a count from 0 up")
_decay = checked(float, lambda v: 0.0 <= v < 1.0, "a decay from 0 up to (not including) 1")


def training_config(args: argparse.Namespace) -> DetectorTrainingConfig:
    """The training recipe the parsed options ask for.  Options left out keep
    the config's defaults, which are the bundled detector's recipe (imported
    here, not at registration: building the parser for every command must not
    import the detector and OpenCV)."""
    from core.detection.augment import STRONG_COLOUR
    from core.detection.training import DetectorTrainingConfig

    config = DetectorTrainingConfig(epochs=args.epochs, width=args.width, batch_size=args.batch_size, seed=args.seed)
    if args.colour == "strong":
        config.augment = STRONG_COLOUR
    if args.init_from is not None:
        config.init_from = str(args.init_from)
    if args.learning_rate is not None:
        config.learning_rate = args.learning_rate
    if args.class_weights is not None:
        config.class_weights = args.class_weights
    if args.min_visible is not None:
        config.augment = replace(config.augment, min_visible=args.min_visible)
    if args.ema_decay is not None:
        config.ema_decay = args.ema_decay
    if args.work_scale is not None:
        # The overlap must stay wider than the largest white cell, which is
        # a size in image pixels.
        config.overlap = round(config.overlap * args.work_scale / config.work_scale)
        config.work_scale = args.work_scale
    if args.crop is not None:
        config.augment = replace(config.augment, crop=args.crop)
    return config


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.detection.data import bundled_training_data
    from core.detection.familiarity_learning import learn_familiarity
    from core.detection.training import train_detector
    from core.jobs import run_job
    from core.models.detector_card import DetectorCard

    data = bundled_training_data(args.data, args.bccd_negative_weights, args.pbc_fields)
    print(f"training data: {data.summary}", file=sys.stderr, flush=True)
    config = training_config(args)
    job = train_detector(data.train, data.val, args.out, config, version=args.version, data_summary=data.summary)
    card_path = run_job(job, print_progress_lines)
    # What its training fields look like, so that a field unlike them is told.
    run_job(learn_familiarity(card_path, [gt.path for gt in data.train], [gt.path for gt in data.val]),
            print_progress_lines)
    card = DetectorCard.load(card_path)
    if args.json:
        print_json({"card": str(card_path), "thresholds": card.thresholds, "metrics": card.metrics})
    else:
        print(f"wrote {card_path} (thresholds {card.thresholds})")
    return 0
