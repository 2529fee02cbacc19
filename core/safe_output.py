"""Guards for what HemaLabel writes from a project's contents, which it must
treat as hostile: a project file can be edited by anyone, and an imported
one by the tool that wrote it.

`path_inside`: every file an export writes is proven to lie inside the
export folder, after symbolic links are followed, so a cell label such as
"../../X" or "/etc/X" never becomes a folder elsewhere.

`spreadsheet_text`: a text cell of a CSV that starts with = + - @, a tab
or a carriage return is read by Excel, LibreOffice and Google Sheets as a
formula (CWE-1236, "CSV injection"); a reviewer's initials or comment such
as `=HYPERLINK(...)` would run on the colleague's machine that opens the
report.  As OWASP advises, such a value is written with a single quote in
front, which the spreadsheet shows as text and does not print."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar, overload

T = TypeVar("T")

# The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class OutsideFolderError(ValueError):
    """A file to be written that would lie outside the folder it belongs in."""


def path_inside(root: str | os.PathLike[str], *parts: str | os.PathLike[str], what: str = "") -> Path:
    """`root`/`parts`, resolved, or OutsideFolderError when it lies outside
    `root` (through "..", an absolute part or a symbolic link) or is `root`
    itself.  `what` names the thing being written for the message (a cell
    and its class), since the person must be told which entry is at fault."""
    base = Path(root).resolve()
    candidate = base.joinpath(*parts)
    resolved = candidate.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        subject = f"{what}: " if what else ""
        raise OutsideFolderError(
            f"{subject}{candidate} lies outside the folder {base}; refused (nothing is written outside it)"
        )
    return resolved


@overload
def spreadsheet_text(value: str) -> str: ...


@overload
def spreadsheet_text(value: T) -> T: ...


def spreadsheet_text(value: object) -> object:
    """A text value made safe for a spreadsheet cell; anything else (a number,
    None) as it is, so numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
