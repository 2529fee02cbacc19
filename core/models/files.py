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

