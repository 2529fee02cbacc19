"""Wording of messages a technician reads: counts ("1 white cell is", "3
white cells are", never "1 cell(s) are"), where a JSON file is broken,
times to the minute, and probabilities as percents that never read as
certainty."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun in the number that agrees with it."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def counted_verb(n: int, noun: str, singular_verb: str, plural_verb: str, plural: str | None = None) -> str:
    """`n`, the noun and a verb that agree: counted_verb(1, "cell", "is", "are")."""
    return f"{counted(n, noun, plural)} {singular_verb if n == 1 else plural_verb}"


def json_error_place(error: json.JSONDecodeError) -> str:
    """"line 3, column 14: Expecting ',' delimiter".  Python's own text for
    some errors ends on "at" ("Invalid control character at"), the place
    having been cut off; here it comes first."""
    problem = error.msg.removesuffix(" starting at").removesuffix(" at")
    return f"line {error.lineno}, column {error.colno}: {problem}"


def minute_utc(iso: str | None) -> str:
    """A stored timestamp for people: "2026-12-04 15:27 UTC".  The store
    writes UTC with milliseconds; a time with another offset is converted,
    and one with none is taken as UTC.  Text that is no timestamp is shown
    as it is rather than lost."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def percent(probability: float, decimals: int = 0) -> str:
    """A model probability as text: rounded to `decimals` places of a
    percent, except that one short of certainty never reads 100% and a
    non-zero one never reads 0%, since a technician takes those literally.
    Such values get one more place ("99.6%", "0.4%", "<0.1%"); near 100%
    that place is cut, not rounded, so 0.99996 stays under 100."""
    text = f"{probability:.{decimals}%}"
    places = decimals + 1
    unit = 10.0 ** -places
    if probability < 1.0 and text == f"{1.0:.{decimals}%}":
        # The epsilon keeps 0.996 * 1000 = 995.9999... from flooring to 99.5.
        return f"{math.floor(probability * 100 / unit + 1e-9) * unit:.{places}f}%"
    if probability > 0.0 and text == f"{0.0:.{decimals}%}":
        return f"<{unit:.{places}f}%" if probability * 100 < unit else f"{probability * 100:.{places}f}%"
    return text
