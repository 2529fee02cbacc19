"""The screen model's card: what it is, how it is fed, its operating point,
where its data came from and how to cite it.  A card that is not a screen's,
or whose weights, classes or input disagree with it, is refused by name."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.formats.common import atomic_write_text
from core.models.files import ModelCardError, sha256_of
from core.models.kinds import SCREEN_TASK, card_kind, read_card_json
from core.screen.fields import DIAGNOSES

CITATION = ('Ghaderzadeh M., Aria M., Hosseini A., Asadi F., Bashash D., Abolghasemi H. "A fast and efficient CNN '
            'model for B-ALL diagnosis and its subtypes classification using peripheral blood smear images." '
            "International Journal of Intelligent Systems 37 (2022) 5113-5133")
LICENCE = ("trained on the ALL image dataset of Taleqani Hospital (Aria, Ghaderzadeh, Bashash et al.), published for "
           "research with the request to cite the paper above; its licence is not confirmed, so this model is optional "
           "and not part of the default classifier")


@dataclass(slots=True)
class ScreenCard:
    name: str
    version: str
    architecture: str
    classes: list[str]  # the model's outputs per cell: benign then the B-ALL subtypes
    input_size: int
    crop_margin: float
    weights_file: str
    sha256: str
    blast_threshold: float  # a cell is a suspected blast when P(blast) reaches this
    target_recall: float  # the validation fields' recall the threshold was chosen for
    task: str = SCREEN_TASK
    pooling: str = ""
    sharpness: float = 4.0  # of the soft maximum and the subtype attention over a field's cells
    citation: str = CITATION
    licence: str = LICENCE
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def write_screen_card(card: ScreenCard, path: Path) -> None:
    atomic_write_text(path, card.to_json() + "\n")  # a crash mid-write must not leave half a card


def read_screen_card(path: str | os.PathLike[str]) -> ScreenCard:
    """The card at `path`, checked to be a screen's card with the diagnoses'
    outputs; ModelCardError naming the file otherwise."""
    path = Path(path)
    data = read_card_json(path, "screen")
    if card_kind(data) != "screen":
        raise ModelCardError(f"{path}: not the card of a lymphoid screen model (its task is not {SCREEN_TASK!r})")
    known = set(ScreenCard.__dataclass_fields__)
    try:
        card = ScreenCard(**{key: value for key, value in data.items() if key in known})
    except TypeError as error:
        raise ModelCardError(f"{path}: screen model card lacks a field ({error})") from None
    if list(card.classes) != list(DIAGNOSES):
        raise ModelCardError(f"{path}: a screen model's outputs must be {list(DIAGNOSES)}, "
                             f"the card lists {card.classes}")
    if not 0.0 <= float(card.blast_threshold) <= 1.0:
        raise ModelCardError(f"{path}: blast_threshold {card.blast_threshold!r} is not a probability")
    return card


def check_screen_weights(card: ScreenCard, card_file: Path) -> Path:
    """The weights beside the card, refused when their checksum differs."""
    weights = card_file.with_name(card.weights_file)
    if not weights.is_file():
        raise ModelCardError(f"{weights}: weights file named by {card_file} not found")
    if sha256_of(weights) != card.sha256:
        raise ModelCardError(f"{weights}: checksum does not match its card {card_file}; the weights were changed or "
                             "the card belongs to another model — refused")
    return weights
