"""How a view runs a review action (core.review): the same words in the
status bar from the canvas and from the gallery, with where to change a
kind when a class was refused for one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from app.gui.actions import kind_change_hint
from core.review import ReviewError, ReviewOutcome
from core.schema import Cell, CellKind

_Result = TypeVar("_Result")


def run_review(
    show: Callable[[str], None], action: Callable[..., _Result], *args: object, **options: object
) -> _Result | None:
    """Call `action(*args, **options)`; its refusal, or its outcome's note,
    goes to `show`.  None when it was refused (nothing was changed)."""
    try:
        result = action(*args, **options)
    except ReviewError as error:
        show(with_kind_hint(str(error), error.needs_kind))
        return None
    if isinstance(result, ReviewOutcome) and result.note:
        show(with_kind_hint(result.note, result.needs_kind))
    return result


def with_kind_hint(text: str, needs_kind: CellKind | None) -> str:
    """`text`, and where the window changes a cell's kind, when a class was
    refused for a cell of another kind."""
    return text if needs_kind is None else f"{text} with {kind_change_hint(needs_kind)}"


def seen(cells: Iterable[Cell | None]) -> dict[int, int]:
    """The versions of the cells as a view shows them (core.review's
    `seen`): an action on them is refused once another station changed one."""
    return {cell.id: cell.row_version for cell in cells if cell is not None}
