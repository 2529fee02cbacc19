"""`hemalabel`: the GUI when called bare (optionally with a project), or one
of the commands below.  The command forms are a contract with scripts and
benchmarks: options may be added, never renamed or removed."""

from __future__ import annotations

import time

# Before the imports below: `hemalabel --self-test` reports how long the
# window took to appear from here, as a technician waits for it.
STARTED = time.perf_counter()

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from app.cli import commands  # noqa: E402
from app.version import app_version  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hemalabel",
        description="Review and label blood-smear cells. Without a command, opens the application.",
    )
    parser.add_argument("--version", action="version", version=f"hemalabel {app_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands.ALL:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Training runs in a child process; a frozen bundle must let it start.
    multiprocessing.freeze_support()
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list or not _names_a_command(args_list, parser):
        return _launch_gui(parser, args_list)
    args = parser.parse_args(args_list)
    return int(args.handler(args) or 0)


def _names_a_command(args: list[str], parser: argparse.ArgumentParser) -> bool:
    """Anything but a command name or a top-level flag is a project path for the GUI."""
    return args[0] in commands.NAMES or args[0] in ("-h", "--help", "--version")


def _launch_gui(parser: argparse.ArgumentParser, args: list[str]) -> int:
    gui_parser = argparse.ArgumentParser(prog="hemalabel")
    gui_parser.add_argument("project", nargs="?", help="project file or folder of images to open")
    gui_parser.add_argument("--self-test", action="store_true", help="check models and window, then exit")
    options = gui_parser.parse_args(args)
    from app.platform_libraries import warn_if_missing

    warn_if_missing()  # before Qt loads: its own message names no package to install
    from app.gui.launch import launch  # Qt loads only when the window is wanted

    return launch(project=options.project, self_test=options.self_test, started=STARTED)


if __name__ == "__main__":
    sys.exit(main())
