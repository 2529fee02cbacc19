"""Which kind of model a card describes.  Classifiers, the detector and the
lymphoid screen keep their weights in the same folders, so each card reader
and the resolver tell them apart by their cards, and a card given to the
wrong command is refused by what it is."""

from __future__ import annotations

from typing import Literal

DETECTOR_CARD_FORMAT = "hemalabel-detector-card/1"
SCREEN_TASK = "lymphoid-screen"

CardKind = Literal["classifier", "detector", "screen"]


def card_kind(data: object) -> CardKind | None:
    """The kind of model parsed card JSON describes; None when it is none
    of ours (each reader then says what it lacks)."""
    if not isinstance(data, dict):
        return None
    if data.get("format") == DETECTOR_CARD_FORMAT:
        return "detector"
    if data.get("task") == SCREEN_TASK:
        return "screen"
    if "input_size" in data and "work_scale" not in data:
        return "classifier"
    return None
