"""Which kind of model a card describes.  Classifiers, the detector and the
lymphoid screen keep their weights in the same folders, so each card reader
and the resolver tell them apart by their cards, and a card given to the
wrong command is refused by what it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from core.models.files import ModelCardError
from core.wording import json_error_place

DETECTOR_CARD_FORMAT = "hemalabel-detector-card/1"
BOX_REFINER_CARD_FORMAT = "hemalabel-box-refiner-card/1"
SCREEN_TASK = "lymphoid-screen"

CardKind = Literal["classifier", "detector", "screen", "box-refiner"]


def card_kind(data: object) -> CardKind | None:
    """The kind of model parsed card JSON describes; None when it is none
    of ours (each reader then says what it lacks)."""
    if not isinstance(data, dict):
        return None
    if data.get("format") == DETECTOR_CARD_FORMAT:
        return "detector"
    if data.get("format") == BOX_REFINER_CARD_FORMAT:
        return "box-refiner"
    if data.get("task") == SCREEN_TASK:
        return "screen"
    if "input_size" in data and "work_scale" not in data:
        return "classifier"
    return None


_WHAT: dict[CardKind, str] = {
    "classifier": "a white-cell classifier",
    "detector": "a cell detector",
    "screen": "the lymphoid screen",
    "box-refiner": "the single-cell locator's box refiner",
}
_WHERE_IT_GOES: dict[CardKind, str] = {
    "classifier": "give it to `hemalabel classify --model` or `evaluate --model`",
    "detector": "give it to `hemalabel detect --model`",
    "screen": "it screens with `--screen` (evaluate, classify) or the project's screen setting",
    "box-refiner": "the locator loads it from the models folder by itself",
}


def read_card_json(path: Path, kind: CardKind) -> dict[str, Any]:
    """A card file's JSON object, refused by name when it is missing,
    unreadable, not a JSON object, or the card of another kind of model
    (saying where that one goes).  A card of no kind we know is handed
    back: each reader says what it lacks."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelCardError(f"{path}: model card not found (every model needs its card beside it)") from None
    except UnicodeDecodeError:
        raise ModelCardError(f"{path}: model card is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ModelCardError(f"{path}: model card is not valid JSON ({json_error_place(error)})") from None
    except OSError as error:
        raise ModelCardError(f"{path}: cannot read the model card ({error.strerror or error})") from None
    if not isinstance(data, dict):
        raise ModelCardError(f"{path}: model card must be a JSON object")
    found = card_kind(data)
    if found is not None and found != kind:
        raise ModelCardError(f"{path}: the card of {_WHAT[found]}, not of {_WHAT[kind]}; {_WHERE_IT_GOES[found]}")
    return data
