"""Argument types shared by the commands: each converts the text and
refuses what it cannot accept with a message naming what was expected, so
a bad option stops argparse (exit 2) before any model or data is loaded."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Every command's --project: a project is a file or a database on a PostgreSQL server.
PROJECT_HELP = ("project file or its folder, or a postgresql:// address (the password in libpq's password "
                "file or a service file, never in the address)")


def checked(convert: Callable[[str], T], accept: Callable[[T], bool], expected: str) -> Callable[[str], T]:
    """An argparse type: convert(text), then refuse values that accept()
    rejects; a ValueError from convert counts as a refusal."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def float_list(text: str) -> tuple[float, ...]:
    """Comma-separated numbers: '0.6,0.7' -> (0.6, 0.7); '' is refused."""
    return tuple(float(part) for part in text.split(","))


def add_locate_option(parser: argparse._ActionsContainer, what: str) -> None:
    """--locate auto|off, the same words on every command that takes
    single-cell images."""
    from core.locating import LOCATE_MODES

    parser.add_argument(
        "--locate", choices=LOCATE_MODES, default="auto",
        help=f"auto (default): find the cell in each {what} with the detector, as a CellaVision image holds "
        "it among red cells; off: take each image whole as its cell's box (crops cut tight at the cell)",
    )


def locator_for(mode: str):  # -> CellLocator | None; the detector loads only when wanted
    """The locator --locate asks for (None for off)."""
    from core.locating import load_locator

    return load_locator() if mode == "auto" else None


def add_image_root_option(parser: argparse._ActionsContainer) -> None:
    """--image-root OLD=NEW, repeatable: where a folder the project names is
    on this computer (a share mounted elsewhere), for this run only."""
    parser.add_argument(
        "--image-root", action="append", default=[], type=_image_root, metavar="OLD=NEW",
        help="with --project: look for the images the project keeps under folder OLD in folder NEW "
        "(a share mounted at another path); repeatable, the project is not changed",
    )


def _image_root(text: str) -> tuple[str, str]:
    from core.image_roots import parse_root

    try:
        return parse_root(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def image_roots_of(args: argparse.Namespace):  # -> ImageRoots; core loads only when a command runs
    """The roots --image-root gave, for `store.image_roots`."""
    from core.image_roots import ImageRoots

    return ImageRoots.of(args.image_root)
