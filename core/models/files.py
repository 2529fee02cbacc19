"""What every kind of model file shares: the one error a refused model
raises and the checksum its card records of its weights."""

from __future__ import annotations

import hashlib
from pathlib import Path


class ModelCardError(ValueError):
    """A model whose card is missing, malformed, of another kind, or does
    not match its weights."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_weights(card_path: Path, name: str, sha256: str) -> Path:
    """The weights file `name` beside a card, refused when it is missing or
    is not the file the card's checksum describes."""
    weights = Path(card_path).with_name(name)
    if not weights.is_file():
        raise ModelCardError(f"{card_path}: weights file {weights.name} not found beside the card")
    actual = sha256_of(weights)
    if actual != sha256:
        raise ModelCardError(
            f"{weights}: weights do not match the model card {Path(card_path).name} "
            f"(sha256 {actual[:12]}... , card says {sha256[:12]}...); refusing to load"
        )
    return weights
