"""hemalabel train --config FILE [--base MODEL] [--target-recall CLASS=R ...]"""

from __future__ import annotations

import argparse
import sys

from app.cli.output import fail, print_json, reports_user_errors
from core.jobs import Progress, run_job

NAME = "train"
DEFAULT_BASE = "hemalabel-wbc"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="train a white-cell classifier from a JSON config")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE", help="training config (JSON); see models/README.md")
    source.add_argument("--project", "-p", metavar="P", help="fine-tune on a project's reviewed cells")
    parser.add_argument("--base", metavar="MODEL", help="start from this model (name or .keras path)")
    parser.add_argument("--out", metavar="DIR", help="folder for the new model (default: the config's output_dir)")
    parser.add_argument("--name", help="name of the new model (default: the config's name)")
    parser.add_argument("--target-recall", action="append", default=[], metavar="CLASS=R",
                        help="set CLASS's threshold so validation recall reaches R (e.g. basophil=0.95); repeatable")
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
    from core.classifier.card import ModelCardError
    from core.training.config import SourceConfig, TrainConfig
    from core.training.samples import DatasetError
    from core.training.trainer import train_classifier

    try:
        if args.config:
            config = TrainConfig.load(args.config)
        else:
            # Fine-tuning on a project's reviewed cells: start from the current
            # model (unless --base names another) and write the candidate to
            # the user's models folder, where the resolver finds it first.
            from core.classifier import user_models_dir

            args.base = args.base or DEFAULT_BASE
            config = TrainConfig(name=args.name or "hemalabel-wbc-project", sources=[SourceConfig("project", args.project, val=0.2)],
                                 epochs=15, learning_rate=5e-4, output_dir=str(user_models_dir()))
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
            if list(base_classifier.classes) != list(config.classes) or base_classifier.card.input_size != config.input_size:
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


def _print(progress: Progress) -> None:
    if progress.payload is not None or "saved" in progress.message or progress.done == progress.total:
        print(progress.message, file=sys.stderr, flush=True)
