"""hemalabel train-detector --data DIR --out DIR [--epochs N] [--width W] [--seed S] [--class-weights W,R,P]
[--min-visible F] [--ema-decay D] [--work-scale S] [--crop PX] [--bccd-negative-weights W,R,P]
[--init-from CARD] [--learning-rate LR] [--colour standard|strong|stains] [--pbc-fields N]

Trains the cell detector (from scratch, or on from a trained one's weights)
on TXL-PBC train + BCCD train (test fields of either set kept out), and
optionally whole PBC images of its train split, picks thresholds on their val splits, and
writes cell-detector.keras and cell-detector.json.  This is the command that
reproduces the bundled detector (models/README.md, "Bundled cell detector").

hemalabel train-detector --project P [--out DIR] [--max-minutes M] [--data DIR] [--promote] [--json]

Fine-tunes the detector in use on the project's reviewed fields (signed off,
or where a person drew, deleted, moved or re-kinded boxes) in a child
process (core.retraining.detector_job), with a replay of its original
training fields from --data (default: the data folder beside the app, when
it is there), compares both detectors on held-out reviewed fields, registers
the candidate in the user's models folder (`hemalabel models --detector`),
prints the comparison and its name, and promotes it with --promote."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.arguments import add_image_root_option, checked, float_list, image_roots_of
from app.cli.output import fail, print_json, print_progress_lines, reports_user_errors

if TYPE_CHECKING:
    from core.detection.training import DetectorTrainingConfig

NAME = "train-detector"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        NAME, help="train the white/red/platelet cell detector (from scratch or on from a trained one)"
    )
    parser.add_argument("--data", type=Path, help="folder holding txl-pbc/ and bccd/ (with --project: the replay's)")
    parser.add_argument("--out", type=Path, help="folder to write the weights and model card into (with --project: "
                        "a copy of the candidate's)")
    project = parser.add_argument_group("fine-tuning on a project's reviewed fields")
    project.add_argument("--project", "-p", metavar="P",
                         help="fine-tune the detector in use on this project's reviewed fields")
    project.add_argument("--max-minutes", type=_non_negative, metavar="M",
                         help="time budget of the whole fine-tune and comparison (default 4; 0: the epochs decide)")
    project.add_argument("--replay-fields", type=_count, metavar="N",
                         help="original training fields replayed beside the project's (default 40; 0: none, and no "
                         "check on the original validation fields either)")
    project.add_argument("--promote", action="store_true", help="make the candidate the detector in use")
    add_image_root_option(project)
    parser.add_argument("--epochs", type=int, help="epochs (default 70; with --project at most 60, the time budget "
                        "usually ending it first)")
    parser.add_argument("--width", type=int, default=48, help="network width (channels of the first stage)")
    parser.add_argument("--batch-size", type=int, help="images a step (default 16; with --project 8)")
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
        choices=("standard", "strong", "stains"),
        default="standard",
        help="colour augmentation: standard (small jitter, the bundled 2.2 recipe), strong (hue turned by any "
        "angle, grey and channel-swapped crops, re-synthesised stain, contrast and blur on half the crops, so "
        "colour alone cannot make a white cell) or stains (a third of the crops, mostly weak blue-grey eosin "
        "and re-synthesised stain: the stain differences no colour turn undoes)",
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
_non_negative = checked(float, lambda v: v >= 0, "a number from 0 up")
_count = checked(int, lambda v: v >= 0, "a count from 0 up")
_decay = checked(float, lambda v: 0.0 <= v < 1.0, "a decay from 0 up to (not including) 1")


def training_config(args: argparse.Namespace) -> DetectorTrainingConfig:
    """The training recipe the parsed options ask for.  Options left out keep
    the config's defaults, which are the bundled detector's recipe (imported
    here, not at registration: building the parser for every command must not
    import the detector and OpenCV)."""
    from core.detection.augment import STAIN_VARIATION, STRONG_COLOUR
    from core.detection.training import DetectorTrainingConfig

    config = DetectorTrainingConfig(epochs=70 if args.epochs is None else args.epochs, width=args.width,
                                    batch_size=16 if args.batch_size is None else args.batch_size, seed=args.seed)
    if args.colour != "standard":
        config.augment = STRONG_COLOUR if args.colour == "strong" else STAIN_VARIATION
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
    if args.image_root and args.project is None:
        return fail("--image-root goes with --project: it says where a project's image folders are")
    if args.project is not None:
        return _fine_tune_project(args)
    if args.data is None or args.out is None:
        return fail("train-detector needs --data and --out (or --project to fine-tune on a project's fields)")
    from core.detection.data import bundled_training_data
    from core.detection.familiarity_learning import learn_familiarity
    from core.detection.ruler_learning import learn_ruler
    from core.detection.training import train_detector
    from core.jobs import run_job
    from core.models.detector_card import DetectorCard

    data = bundled_training_data(args.data, args.bccd_negative_weights, args.pbc_fields)
    print(f"training data: {data.summary}", file=sys.stderr, flush=True)
    config = training_config(args)
    job = train_detector(data.train, data.val, args.out, config, version=args.version, data_summary=data.summary)
    card_path = run_job(job, print_progress_lines)
    # The red cells' sizes as it draws them (the card has the labels' until
    # then), by which a field's magnification is judged.
    run_job(learn_ruler(card_path, [gt.path for gt in data.train]), print_progress_lines)
    # What its training fields look like, so that a field unlike them is told.
    run_job(learn_familiarity(card_path, [gt.path for gt in data.train], [gt.path for gt in data.val]),
            print_progress_lines)
    card = DetectorCard.load(card_path)
    if args.json:
        print_json({"card": str(card_path), "thresholds": card.thresholds, "metrics": card.metrics})
    else:
        print(f"wrote {card_path} (thresholds {card.thresholds})")
    return 0


# The recipe options of a training from the data folder; a project's
# fine-tune keeps the recipe of the detector it starts from.
_RECIPE_ONLY = ("class_weights", "min_visible", "ema_decay", "work_scale", "crop", "bccd_negative_weights")


def _fine_tune_project(args: argparse.Namespace) -> int:
    import shutil

    refused = [f"--{name.replace('_', '-')}" for name in _RECIPE_ONLY if getattr(args, name) is not None]
    refused += ["--colour"] if args.colour != "standard" else []
    refused += ["--pbc-fields"] if args.pbc_fields else []
    if refused:
        return fail(f"train-detector --project keeps the recipe of the detector it fine-tunes; "
                    f"{', '.join(refused)} apply to a training from --data alone")

    from core.jobs import run_job
    from core.models.registry import detector_registry
    from core.retraining.detector_job import retrain_detector
    from core.retraining.job import RetrainError
    from core.retraining.settings import DetectorRetrainSettings
    from core.store import locate_project

    settings = DetectorRetrainSettings(seed=args.seed)
    if args.init_from is not None:
        settings.base = str(args.init_from)
    if args.replay_fields is not None:
        settings.replay_fields = args.replay_fields
        if args.replay_fields == 0:
            settings.check_fields = 0  # the original data is not read at all
    if args.epochs is not None:
        settings.epochs = args.epochs
    if args.batch_size is not None:
        settings.batch_size = args.batch_size
    if args.data is not None:
        settings.replay_root = str(args.data)
    if args.max_minutes is not None:
        settings.max_minutes = args.max_minutes
    if args.learning_rate is not None:
        settings.learning_rate = args.learning_rate
    try:
        outcome = run_job(retrain_detector(locate_project(args.project), settings,
                                           image_roots=image_roots_of(args)), print_progress_lines)
    except RetrainError as error:
        return fail(str(error))
    candidate = outcome.candidate
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for suffix in (".keras", ".json"):
            shutil.copy2(candidate.path.with_suffix(suffix), args.out / f"{candidate.name}{suffix}")
    if args.promote:
        detector_registry().promote(candidate.name)
    if args.json:
        print_json({"candidate": candidate.name, "card": str(candidate.path.with_suffix(".json")),
                    "promoted": bool(args.promote), "seconds": round(outcome.seconds, 1),
                    "train_fields": outcome.train_fields, "held_out_fields": outcome.held_out_fields,
                    "replay_fields": outcome.replay_fields, "comparison": outcome.comparison.to_dict()})
        return 0
    for line in outcome.comparison.lines():
        print(line)
    print(f"candidate: {candidate.name} ({candidate.path.with_suffix('.json')}), fine-tuned in "
          f"{outcome.seconds:.0f} s on {outcome.train_fields} reviewed and {outcome.replay_fields} replayed fields")
    print(f"{candidate.name} is now the detector in use" if args.promote else
          f"promote it with `hemalabel models promote {candidate.name} --detector`")
    return 0
