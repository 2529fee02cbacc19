"""What every command shares: error reporting, progress on stderr, JSON out."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any

from core.finite_json import strict_dumps
from core.formats.common import AnnotationError
from core.imaging import ImageReadError
from core.importing import ImportSourceError
from core.jobs import Cancelled, Progress
from core.store import StoreError
from core.taxonomy import TaxonomyError

# Errors that are the user's input, not our bug: shown as one clear line.
USER_ERRORS: tuple[type[BaseException], ...] = (
    AnnotationError,
    ImageReadError,
    ImportSourceError,
    StoreError,
    TaxonomyError,
    FileNotFoundError,
    PermissionError,
)

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


def fail(message: str) -> int:
    print(f"hemalabel: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def reports_user_errors(handler: Callable[..., int]) -> Callable[..., int]:
    """Turn expected failures into a message naming the file and the problem."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> int:
        try:
            return handler(*args, **kwargs)
        except USER_ERRORS as error:
            return fail(str(error))
        except OSError as error:  # a full disk, a drive gone: the system's problem, named with its file
            return fail(f"{error.filename}: {error.strerror}" if error.filename and error.strerror else str(error))
        except (Cancelled, KeyboardInterrupt):
            print("hemalabel: cancelled", file=sys.stderr)
            return EXIT_CANCELLED

    return wrapped


# print_slide_progress, sent to a log or a pipe: seconds between lines.
STEP_LINE_SECONDS = 1.0
WITHIN_STEP_LINE_SECONDS = 5.0
_last_line = {"time": float("-inf"), "done": -1}


def print_progress(progress: Progress) -> None:
    if sys.stderr.isatty():
        print(f"\r{progress.message}", end="" if progress.done < progress.total else "\n", file=sys.stderr)


def print_slide_progress(progress: Progress) -> None:
    """print_progress on a terminal; otherwise (a log, a pipe, a scheduler's
    capture) whole lines, so that detection over a scan, minutes long, shows
    it is alive without flooding the log: a line per slide or image at most
    every STEP_LINE_SECONDS (the last always), and within one, a line per
    row of tiles at most every WITHIN_STEP_LINE_SECONDS."""
    if sys.stderr.isatty():
        print_progress(progress)
        return
    now = time.monotonic()
    last = progress.done >= progress.total
    wait = STEP_LINE_SECONDS if progress.done != _last_line["done"] else WITHIN_STEP_LINE_SECONDS
    if last or now - _last_line["time"] >= wait:
        print(f"[{progress.done}/{progress.total}] {progress.message}", file=sys.stderr, flush=True)
        _last_line.update(time=float("-inf") if last else now, done=-1 if last else progress.done)


def print_progress_lines(progress: Progress) -> None:
    """One line per step, whether or not stderr is a terminal: long jobs
    (training, tuning) are often run with their stderr sent to a log."""
    print(progress.message, file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    """data as JSON on stdout, a figure with no value (NaN) as null."""
    sys.stdout.write(strict_dumps(data))
    sys.stdout.write("\n")


def with_interval(metrics: dict[str, Any], key: str, digits: int = 3) -> str:
    """'0.891 [0.824-0.944]': metrics[key] with its 95% interval (the
    `<key>_ci95` pair the evaluations add), where there is one."""
    bounds = metrics.get(f"{key}_ci95")
    text = f"{metrics[key]:.{digits}f}"
    return f"{text} [{bounds[0]:.{digits}f}-{bounds[1]:.{digits}f}]" if bounds else text
