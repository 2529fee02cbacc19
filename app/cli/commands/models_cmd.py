"""hemalabel models [list | promote NAME | discard NAME | rollback] [--detector] [--json]

The classifier versions in the user's models folder (with --detector: the
cell detector's), and the three things a lab does with them.  The bundled
model is always listed and never deleted."""

from __future__ import annotations

import argparse

from app.cli.output import fail, print_json, reports_user_errors

NAME = "models"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(NAME, help="list, promote, discard or roll back classifier (or detector) versions")
    parser.add_argument("action", nargs="?", default="list", choices=("list", "promote", "discard", "rollback"))
    parser.add_argument("name", nargs="?", help="the version to promote or discard")
    parser.add_argument("--detector", action="store_true", help="the cell detector's versions, not the classifier's")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


@reports_user_errors
def run(args: argparse.Namespace) -> int:
    from core.models.registry import ModelRegistry, RegistryError, detector_registry

    registry = detector_registry() if args.detector else ModelRegistry()
    try:
        if args.action in ("promote", "discard"):
            if not args.name:
                return fail(f"models {args.action}: name the version (see `hemalabel models list`)")
            if args.action == "promote":
                print(f"{registry.promote(args.name).name} is now the model in use")
            else:
                registry.discard(args.name)
                print(f"discarded {args.name}")
            return 0
        if args.action == "rollback":
            print(f"rolled back: {registry.rollback().name} is now the model in use")
            return 0
        versions = registry.versions()
    except RegistryError as error:
        return fail(str(error))
    if args.json:
        print_json([{"name": v.name, "status": v.status, "current": v.is_current, "parent": v.parent,
                     "created_at": v.created_at, "path": str(v.path), "trained_on": v.trained_on,
                     "recommendation": v.metrics.get("recommendation")} for v in versions])
        return 0
    print(f"{'':2}{'name':<26}{'status':<11}{'parent':<24}{'boxes' if args.detector else 'cells':>7}  created")
    for v in versions:
        print(f"{'*' if v.is_current else ' ':2}{v.name:<26}{v.status:<11}{v.parent or '-':<24}"
              f"{sum(v.trained_on.values()) or '-':>7}  {v.created_at[:19]}")
        if v.metrics.get("recommendation"):
            print(f"{'':4}{v.metrics['recommendation']}")
    print(f"models folder: {registry.folder}   (* = in use)")
    return 0
