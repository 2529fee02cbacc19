"""Opening a command's project for editing, the same way for every command
whose edits the audit trail records (detect, classify, and import, which
records who added each image): its lock names the command, its edits are
recorded under `--user`'s initials (else the system login) and its images
are looked for through `--image-root`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.cli.arguments import image_roots_of

if TYPE_CHECKING:
    from core.store import ProjectStore

def add_user_option(parser: argparse._ActionsContainer) -> None:
    """--user INITIALS: whom the run's edits are recorded under in the audit trail."""
    parser.add_argument(
        "--user", type=_initials, metavar="INITIALS",
        help="with --project: record this run's edits under these initials in the audit trail "
        "(default: your system login)",
    )


def _initials(text: str) -> str:
    from core.identity import MAX_INITIALS

    initials = text.strip()
    if not initials or len(initials) > MAX_INITIALS:
        raise argparse.ArgumentTypeError(f"expected initials of 1 to {MAX_INITIALS} characters, got {text!r}")
    return initials


def misplaced_project_option(args: argparse.Namespace) -> str | None:
    """Why an option that says how to edit a project was given without
    --project (a folder of images has no project to record into), else None."""
    if args.project is not None:
        return None
    if args.image_root:
        return "--image-root goes with --project: it says where a project's image folders are"
    if args.user:
        return "--user goes with --project: it names who the project's edits are recorded under"
    return None


def open_to_edit(args: argparse.Namespace, command: str, *, or_create: bool = False) -> ProjectStore:
    """`args.project` opened for editing by `hemalabel <command>` (made
    first where `or_create` and there is none); close it when done."""
    from core.identity import Identity
    from core.store import ProjectStore

    identity = Identity.of_this_computer(args.user)
    opener = ProjectStore.open_or_create if or_create else ProjectStore.open
    store = opener(args.project, editor=f"hemalabel {command}", identity=identity)
    store.image_roots = image_roots_of(args)
    return store
