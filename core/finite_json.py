"""JSON with no NaN in it.  Python writes a figure that has no value (a
class with no box to score) as `NaN`, which is not JSON: other programs
refuse the file.  Such a figure is written as null instead, and the dump is
strict, so that a NaN that slips past raises here rather than leaving a file
nobody else can read."""

from __future__ import annotations

import json
import math
from typing import Any


def finite_or_none(data: Any) -> Any:
    """data with every float that is NaN or infinite, at any depth of its
    dicts, lists and tuples, replaced by None (tuples become lists, as JSON
    writes them)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_or_none(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(value) for value in data]
    return data


def strict_dumps(data: Any, indent: int | None = 2) -> str:
    """json.dumps of data with its non-finite numbers as null."""
    return json.dumps(finite_or_none(data), indent=indent, allow_nan=False)
