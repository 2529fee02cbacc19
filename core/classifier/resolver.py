"""Finding a model by name: the user's own models first, then the bundled
ones, so a promoted retrained model wins over the shipped one of that name."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.classifier.card import ModelCardError
from core.detection.card import is_detector_card
from core.resources import bundled_models_dir, user_models_dir

DEFAULT_MODEL_NAME = "hemalabel-wbc"


def search_dirs() -> list[Path]:
    return [user_models_dir(), bundled_models_dir()]


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
    # Imported here: the registry reads cards, and this module is imported by
    # the card's package.
    from core.retraining.registry import ModelRegistry, RegistryError

    try:
        current = ModelRegistry().current()
    except RegistryError as error:
        raise ModelCardError(str(error)) from None
    if current.status == "bundled":
        return resolve_model(DEFAULT_MODEL_NAME)
    if not current.path.is_file():
        raise ModelCardError(
            f"{current.path}: the model in use ({current.name}) is missing; roll back with `hemalabel models rollback`"
        )
    return current.path


def available_models() -> list[str]:
    """The classifiers that can be named: each .keras file whose card is not
    a cell detector's or the lymphoid screen's (their weights lie in the same
    folders)."""
    names: list[str] = []
    for folder in search_dirs():
        if folder.is_dir():
            names.extend(p.stem for p in sorted(folder.glob("*.keras")) if p.stem not in names and not _is_detector(p))
    return names


def _is_detector(weights: Path) -> bool:
    """Whether the card beside the weights is a detector's or the screen's: not a classifier to pick."""
    try:
        card = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
        return is_detector_card(card) or (isinstance(card, dict) and card.get("task") == "lymphoid-screen")
    except (OSError, ValueError):
        return False  # no readable card: loading it will say so
