"""hemalabel train (--config FILE | --project P) [--base MODEL] [--target-recall CLASS=R ...]
hemalabel train --screen --config FILE [--target-recall blast=R]

With --config, trains a model from the config's sources.  With --project,
fine-tunes the model in use on the project's reviewed cells in a child
process (core.retraining), registers the candidate in the user's models
folder, prints where it is and how it compares, and promotes it with
--promote."""

from __future__ import annotations

import argparse
import sys

from app.cli.arguments import add_image_root_option, add_locate_option, image_roots_of
from app.cli.output import fail, print_json, reports_user_errors
from core.jobs import Progress, run_job

NAME = "train"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="train a white-cell classifier from a JSON config")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="training config (JSON); see models/README.md")
    source.add_argument("--project", "-p", metavar="P", help="fine-tune on a project's reviewed cells")
    add_image_root_option(parser)
    parser.add_argument("--base", metavar="MODEL", help="start from this model (name or .keras path)")
    parser.add_argument("--out", metavar="DIR", help="folder for the new model (default: the config's output_dir)")
    parser.add_argument("--name", help="name of the new model (default: the config's name)")
    parser.add_argument("--screen", action="store_true",
                        help="train the optional lymphoid screen from a screen config "
                             "(models/lymphoid-screen.train.json)")
    parser.add_argument("--target-recall", action="append", default=[], metavar="CLASS=R",
                        help="set CLASS's threshold so validation recall reaches R (e.g. basophil=0.95); repeatable")
    retrain = parser.add_argument_group("with --project")
    retrain.add_argument(
        "--replay",
        metavar="PATH",
        help="original training data mixed in: its training config (.json), a PBC root or a class-folder tree; "
             "default: queue only",
    )
    retrain.add_argument("--replay-per-class", type=int, metavar="N", help="replay cells per class (default 150)")
    retrain.add_argument("--standard-set", metavar="PATH", help="class-folder tree or .hemalabel project to compare on")
    retrain.add_argument("--epochs", type=int, metavar="N", help="fine-tune epochs (default 15)")
    retrain.add_argument("--max-minutes", type=float, metavar="M", help="time budget of the fine-tune (default 3)")
    retrain.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="folds of the reviewed cells (grouped by slide) for the out-of-fold comparison (default 3)",
    )
    retrain.add_argument("--min-examples", type=int, metavar="N", help="refuse with fewer reviewed cells (default 20)")
    retrain.add_argument("--min-new-class", type=int, metavar="N",
                         help="cells a new taxonomy class needs to become an output (default 10)")
    add_locate_option(retrain, "image of a class-folder --replay or --standard-set tree")
    retrain.add_argument("--promote", action="store_true", help="make the candidate the model in use")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.set_defaults(handler=run)


def parse_target_recall(items: list[str]) -> dict[str, float]:
    targets: dict[str, float] = {}
    for item in items:
        label, _, value = item.partition("=")
        try:
            recall = float(value)
        except ValueError:
            raise ValueError(f"--target-recall {item!r}: expected CLASS=R with R a number such as 0.95") from None
        if not label or not 0.0 < recall <= 1.0:
            raise ValueError(f"--target-recall {item!r}: expected CLASS=R with 0 < R <= 1")
        targets[label.strip().lower()] = recall
    return targets


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.models.files import ModelCardError
    from core.training.config import TrainConfig
    from core.training.samples import DatasetError
    from core.training.trainer import train_classifier

    if args.screen and args.project:
        return fail("--screen trains from a screen config (--config FILE), not from a project")
    if args.image_root and not args.project:
        return fail("--image-root goes with --project: it says where a project's image folders are")
    if args.project:
        return run_retrain(args)
    if args.screen:
        return run_screen(args)
    try:
        config = TrainConfig.load(args.config)
        config.target_recall.update(parse_target_recall(args.target_recall))
        for label in config.target_recall:
            if label not in config.classes:
                return fail(f"--target-recall: {label!r} is not a class; classes are: {', '.join(config.classes)}")
        if args.out:
            config.output_dir = args.out
        if args.name:
            config.name = args.name
        base = None
        if args.base:
            from core.classifier import load_classifier

            base_classifier = load_classifier(args.base)
            if (
                list(base_classifier.classes) != list(config.classes)
                or base_classifier.card.input_size != config.input_size
            ):
                return fail(f"--base {args.base}: its classes or input size differ from the config's; cannot fine-tune")
            base = base_classifier.keras_model
        result = run_job(train_classifier(config, base), _print)
    except (DatasetError, ModelCardError, ValueError) as error:
        return fail(str(error))
    if args.json:
        print_json({"weights": str(result.weights), "card": str(result.card), "epochs": len(result.history),
                    "stopped_early": result.stopped_early, "history": result.history})
    else:
        print(f"saved {result.weights} and {result.card}")
    return 0


def run_screen(args: argparse.Namespace) -> int:
    from core.detection.detector import KerasCellDetector
    from core.screen.config import ScreenConfig
    from core.training.samples import DatasetError
    from core.training.screen_trainer import train_screen

    try:
        config = ScreenConfig.load(args.config)
        targets = parse_target_recall(args.target_recall)
        if set(targets) - {"blast"}:
            return fail(f"--target-recall with --screen: only blast=R is known, not {sorted(set(targets) - {'blast'})}")
        config.target_recall = targets.get("blast", config.target_recall)
        if args.out:
            config.output_dir = args.out
        if args.name:
            config.name = args.name
        result = run_job(train_screen(config, KerasCellDetector.load()), _print)
    except (DatasetError, ValueError) as error:
        return fail(str(error))
    if args.json:
        print_json({"weights": str(result.weights), "card": str(result.card), "epochs": len(result.history),
                    "history": result.history})
    else:
        print(f"saved {result.weights} and {result.card}")
    return 0


def _print(progress: Progress) -> None:
    if progress.payload is not None or "saved" in progress.message or progress.done == progress.total:
        print(progress.message, file=sys.stderr, flush=True)


RETRAIN_OPTIONS = {"replay": "replay_path", "replay_per_class": "replay_per_class", "standard_set": "standard_set",
                   "epochs": "epochs", "max_minutes": "max_minutes", "folds": "folds",
                   "min_examples": "min_examples", "min_new_class": "min_new_class_cells", "base": "base",
                   "locate": "locate"}


def run_retrain(args: argparse.Namespace) -> int:

    from core.jobs import Cancelled
    from core.models.registry import ModelRegistry, RegistryError
    from core.retraining import RetrainError, RetrainSettings, retrain
    from core.store import locate_project, project_exists

    settings = RetrainSettings(**{field: getattr(args, option) for option, field in RETRAIN_OPTIONS.items()
                                  if getattr(args, option) is not None})
    project = locate_project(args.project)
    if not project_exists(project):
        return fail(f"{project}: project not found")
    registry = ModelRegistry()
    try:
        outcome = run_job(retrain(project, settings, registry=registry, image_roots=image_roots_of(args)),
                          _print_retrain)
    except RetrainError as error:
        return fail(str(error))
    except (Cancelled, KeyboardInterrupt):
        return fail("training cancelled; the model in use is unchanged")
    candidate = outcome.candidate
    if args.promote:
        try:
            registry.promote(candidate.name)
        except RegistryError as error:
            return fail(str(error))
    if args.json:
        print_json(
            {
                "candidate": candidate.name,
                "weights": str(candidate.path),
                "parent": candidate.parent,
                "trained_on": candidate.trained_on,
                "promoted": bool(args.promote),
                "seconds": round(outcome.seconds, 1),
                "comparison": outcome.comparison.to_dict(),
                "replay_check": outcome.replay_check,
                "calibration": outcome.calibration,
                "history": outcome.history,
            }
        )
        return 0
    print(
        f"candidate {candidate.name} (fine-tuned from {candidate.parent} in {outcome.seconds:.0f} s): {candidate.path}"
    )
    comparison = outcome.comparison
    for title, pair in (("reviewed cells, out of fold", comparison.out_of_fold), ("standard set", comparison.standard)):
        if pair is not None:
            current, new = pair
            print(f"{title}: {current.cells} cells; accuracy {current.accuracy:.4f} -> {new.accuracy:.4f}, "
                  f"balanced {current.balanced_accuracy:.4f} -> {new.balanced_accuracy:.4f}")
    if comparison.instant is not None:
        print(f"taught at once (no fine-tune), reviewed cells out of fold: accuracy {comparison.instant.accuracy:.4f}, "
              f"balanced {comparison.instant.balanced_accuracy:.4f}")
    if outcome.calibration:
        print(f"confidence refitted on {outcome.calibration['cells']} reviewed cells out of fold: calibration error "
              f"{outcome.calibration['ece_before']:.1%} -> {outcome.calibration['ece_after']:.1%}")
    if outcome.forgetting():
        print(outcome.forgetting())
    print(outcome.comparison.recommendation)
    if args.promote:
        print(f"promoted {candidate.name}: it is now the model in use (undo: hemalabel models rollback)")
    else:
        print(
            f"to use it: hemalabel models promote {candidate.name}   to delete it: hemalabel models discard "
            f"{candidate.name}"
        )
    return 0


def _print_retrain(progress: Progress) -> None:
    payload = progress.payload
    if isinstance(payload, dict) and payload.get("kind") == "log":
        return  # the log is for a failure's report; the epochs say how it goes
    print(progress.message, file=sys.stderr, flush=True)
