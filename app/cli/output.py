"""What every command shares: error reporting, progress on stderr, JSON out."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

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


def print_progress(progress: Progress) -> None:
    if sys.stderr.isatty():
        print(f"\r{progress.message}", end="" if progress.done < progress.total else "\n", file=sys.stderr)


def print_progress_lines(progress: Progress) -> None:
    """One line per step, whether or not stderr is a terminal: long jobs
    (training, tuning) are often run with their stderr sent to a log."""
    print(progress.message, file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def with_interval(metrics: dict[str, Any], key: str, digits: int = 3) -> str:
    """'0.891 [0.824-0.944]': metrics[key] with its 95% interval (the
    `<key>_ci95` pair the evaluations add), where there is one."""
    bounds = metrics.get(f"{key}_ci95")
    text = f"{metrics[key]:.{digits}f}"
    return f"{text} [{bounds[0]:.{digits}f}-{bounds[1]:.{digits}f}]" if bounds else text
