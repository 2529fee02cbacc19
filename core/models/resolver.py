"""Finding a model's file by name or path: the user's own models first, then
the bundled ones, so a promoted retrained model wins over the shipped one of
that name.  The classifier, the cell detector and the lymphoid screen are all
found here; their weights lie in the same folders, told apart by their cards."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.models.files import ModelCardError
from core.models.kinds import card_kind
from core.models.registry import BUNDLED_DEFAULT, ModelRegistry, RegistryError, detector_registry
from core.resources import bundled_models_dir, user_models_dir

DETECTOR_CARD_NAME = "cell-detector.json"
DEFAULT_SCREEN_MODEL = "lymphoid-screen"


def search_dirs() -> list[Path]:
    return [user_models_dir(), bundled_models_dir()]


# -- the white-cell classifier ----------------------------------------------

def resolve_model(name_or_path: str | os.PathLike[str] | None = None) -> Path:
    """The .keras file for a model name, a .keras path or a card .json path.
    None means the model in use: the registry's promoted version, else the
    bundled default."""
    if name_or_path is None:
        return current_model_path()
    found = find_model_file(name_or_path, ".keras", "model file")
    if found is None:
        looked = ", ".join(str(folder) for folder in search_dirs())
        raise ModelCardError(f"model {str(name_or_path)!r} not found (looked in {looked}); "
                             f"available: {', '.join(available_models()) or 'none'}")
    return found


def find_model_file(name_or_path: str | os.PathLike[str], suffix: str, what: str) -> Path | None:
    """A model's file with `suffix` (.keras or .json): a path given (either
    file's) must exist, else ModelCardError naming `what`; a name is looked up
    in the user's models, then the bundled ones; None if no folder has it."""
    candidate = Path(str(name_or_path))
    if candidate.suffix in (".keras", ".json") or candidate.parent != Path("."):
        path = candidate.with_suffix(suffix)
        if path.is_file():
            return path
        raise ModelCardError(f"{path}: {what} not found")
    for folder in search_dirs():
        path = folder / f"{candidate}{suffix}"
        if path.is_file():
            return path
    return None


def current_model_path() -> Path:
    try:
        current = ModelRegistry().current()
    except RegistryError as error:
        raise ModelCardError(str(error)) from None
    if current.status == "bundled":
        return resolve_model(BUNDLED_DEFAULT)
    if not current.path.is_file():
        raise ModelCardError(
            f"{current.path}: the model in use ({current.name}) is missing; roll back with `hemalabel models rollback`"
        )
    return current.path


def available_models() -> list[str]:
    """The classifiers that can be named: each .keras file whose card is not
    a cell detector's, the lymphoid screen's or the box refiner's."""
    names: list[str] = []
    for folder in search_dirs():
        for weights in sorted(folder.glob("*.keras")) if folder.is_dir() else []:
            if weights.stem not in names and not _not_a_classifier(weights):
                names.append(weights.stem)
    return names


def _not_a_classifier(weights: Path) -> bool:
    """Whether the card beside the weights is another kind of model's: not a classifier to pick."""
    try:
        card = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # no readable card: loading it will say so
    return card_kind(card) in ("detector", "screen", "box-refiner")


# -- the cell detector --------------------------------------------------------

def default_detector_card() -> Path:
    """The bundled detector's card (HEMALABEL_BUNDLED_MODELS can move the folder)."""
    return bundled_models_dir() / DETECTOR_CARD_NAME


def resolve_detector_card(model: str | os.PathLike[str] | None = None) -> Path:
    """The card to load: `model` if given (a card, its .keras file, or a
    folder holding cell-detector.json), else the detector version promoted
    in the detector's registry, else a user-trained detector in the user's
    data folder, else the bundled one."""
    if model is not None:
        path = Path(model)
        if path.is_dir():
            return path / DETECTOR_CARD_NAME
        if not path.suffix and path.parent == Path(".") and not path.exists():
            # A bare name, as classifiers are named: the user's models, then the bundled ones.
            for folder in search_dirs():
                if (folder / f"{path.name}.json").is_file():
                    return folder / f"{path.name}.json"
        return path.with_suffix(".json") if path.suffix == ".keras" else path
    promoted = promoted_detector_card()
    if promoted is not None:
        return promoted
    user_card = user_models_dir() / DETECTOR_CARD_NAME
    return user_card if user_card.is_file() else default_detector_card()


def promoted_detector_card() -> Path | None:
    """The card of the detector version promoted from a fine-tune (None:
    none is, the bundled one is in use)."""
    try:
        current = detector_registry().current()
    except RegistryError as error:
        raise ModelCardError(str(error)) from None
    if current.status == "bundled":
        return None
    card = current.path.with_suffix(".json")
    if not card.is_file():
        raise ModelCardError(
            f"{card}: the detector in use ({current.name}) is missing; roll back with `hemalabel models rollback "
            "--detector` or in Models"
        )
    return card


# -- the lymphoid screen ------------------------------------------------------

def resolve_screen_model(name_or_path: str | os.PathLike[str] | None = None) -> Path:
    """The card of a screen model named or given by path (.keras or .json);
    by name it is looked up where classifiers are."""
    wanted = str(name_or_path or DEFAULT_SCREEN_MODEL)
    card = find_model_file(wanted, ".json", "screen model card")
    if card is None:
        raise ModelCardError(f"screen model {wanted!r} not found (looked in {', '.join(map(str, search_dirs()))})")
    return card
