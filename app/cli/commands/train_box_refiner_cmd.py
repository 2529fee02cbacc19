"""hemalabel train-box-refiner --data DIR --out DIR [--epochs N] [--seed S] [--every N] [--view-side PX]
                                                  [--version V] [--json]

Trains the single-cell locator's box refiner (core.box_refiner) on the
bundled classifier's PBC training split and writes cell-box-refiner.keras
and cell-box-refiner.json, with its validation agreement with OI-PBC's
boxes before and after refining.  This is the command that reproduces the
bundled refiner (models/README.md, "Single-cell images")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.arguments import checked
from app.cli.output import fail, print_json, reports_user_errors

NAME = "train-box-refiner"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="train the box refiner that brings a single-cell image's located box to OI-PBC's convention"
    )
    parser.add_argument("--data", required=True, type=Path, help="folder holding pbc/ (images/ and boxes/)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the weights and card into")
    parser.add_argument("--epochs", type=checked(int, lambda v: 1 <= v <= 500, "1 to 500 epochs"), default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--every", type=checked(int, lambda v: v >= 1, "a whole number from 1"), default=3,
                        help="train on one image in this many of the split (default 3)")
    parser.add_argument("--view-side", type=checked(int, lambda v: 16 <= v <= 256, "16 to 256 pixels"), default=None,
                        help="the view's side in pixels (default: the bundled refiner's)")
    parser.add_argument("--version", default="1.0", help="version written into the card")
    parser.add_argument("--json", action="store_true", help="print the card's metrics as JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.box_refiner import VIEW_SIDE
    from core.resources import bundled_models_dir
    from core.training.box_refiner_trainer import RefinerTrainingConfig, train_box_refiner

    pbc = args.data / "pbc"
    if not (pbc / "images").is_dir() or not (pbc / "boxes").is_dir():
        return fail(f"{pbc}: PBC's images/ and boxes/ folders not found")
    config = RefinerTrainingConfig(
        data=args.data, classifier_config=bundled_models_dir() / "hemalabel-wbc.train.json", epochs=args.epochs,
        seed=args.seed, view_side=args.view_side or VIEW_SIDE, version=args.version, every=args.every,
    )
    # Progress on stderr: stdout is the --json answer's alone.
    card = train_box_refiner(config, args.out, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print_json({"out": str(args.out), "metrics": card.metrics, "training": card.training})
    return 0
