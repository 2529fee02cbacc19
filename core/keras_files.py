"""The one way a .keras file is loaded: checked as an archive before Keras
sees it.

A .keras file is a zip of config.json, metadata.json and model.weights.h5.
Keras unpacks it whole into memory and trusts what the config names, so a
hostile or broken file is refused here first, with a message naming it:
  - not a zip at all (Keras said "File not found" for random bytes);
  - a member, or the whole, far larger unpacked than any real model (a 2 MB
    file whose config inflated to 2 GB took 23 s and 4.8 GB to refuse), or
    packed at a ratio no real model reaches;
  - a config naming a vocabulary *file* for a lookup layer: older Keras
    read that local file even with safe_mode on, and no model of ours has
    a lookup layer at all.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
# Unpacked sizes far above any model we ship or train (config ~70 KB,
# weights ~8 MB), yet nowhere near what would exhaust a workstation.
MAX_CONFIG_BYTES = 10 * MiB
MAX_METADATA_BYTES = 1 * MiB
MAX_WEIGHTS_BYTES = 500 * MiB
MAX_TOTAL_BYTES = 1024 * MiB
MAX_MEMBERS = 64
# Beyond this ratio a member is a bomb, not a model (a JSON config packs
# about 10:1, float weights hardly at all).  Small members are not judged.
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1 * MiB
CONFIG = "config.json"
# Layers whose "vocabulary" (or similar) may be a path Keras would read.
_PATH_KEYS = ("vocabulary", "vocabulary_path", "idf_weights")


def check_keras_file(path: Path, error: type[Exception]) -> None:
    """Raise `error` naming `path` unless it is a plausible .keras archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(path, members, error)
            config_bytes = archive.read(CONFIG)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise error(f"{path}: not a Keras model file (not a zip archive); refused") from None
    except KeyError:
        raise error(f"{path}: not a Keras model file (no {CONFIG} inside); refused") from None
    except (OSError, RuntimeError, NotImplementedError, ValueError) as problem:
        # Unreadable, encrypted, or packed with a method zipfile lacks.
        raise error(f"{path}: not a readable Keras model file ({problem}); refused") from None
    try:
        config = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as problem:
        raise error(f"{path}: not a Keras model file ({CONFIG} is not valid JSON: {problem}); refused") from None
    named = _file_named_by_lookup(config)
    if named is not None:
        raise error(f"{path}: the model's {named[0]} layer names a file to read ({named[1]!r}); refused")


def load_keras_file(path: Path, error: type[Exception], what: str = "the model") -> Any:
    """check_keras_file, then Keras's loader with safe_mode on; anything
    Keras raises becomes `error` naming the file."""
    check_keras_file(path, error)
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as problem:  # Keras raises many types for a bad file
        raise error(f"{path}: cannot load {what} ({problem})") from None


def _check_members(path: Path, members: list[zipfile.ZipInfo], error: type[Exception]) -> None:
    if len(members) > MAX_MEMBERS:
        raise error(f"{path}: not a Keras model file ({len(members)} files inside); refused")
    total = 0
    for member in members:
        size = member.file_size
        total += size
        limit = _limit_for(member.filename)
        if size > limit:
            raise error(f"{path}: {member.filename} inside unpacks to {_mib(size)}, more than any model "
                        f"(at most {_mib(limit)}); refused")
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(member.compress_size, 1):
            raise error(f"{path}: {member.filename} inside is packed {size // max(member.compress_size, 1)}:1, "
                        "which no model is; refused")
    if total > MAX_TOTAL_BYTES:
        raise error(f"{path}: unpacks to {_mib(total)}, more than any model (at most {_mib(MAX_TOTAL_BYTES)}); refused")


def _limit_for(name: str) -> int:
    if name == CONFIG:
        return MAX_CONFIG_BYTES
    if name == "metadata.json":
        return MAX_METADATA_BYTES
    return MAX_WEIGHTS_BYTES


def _file_named_by_lookup(node: Any) -> tuple[str, str] | None:
    """(layer class, path) of the first layer whose config names a file
    where a lookup layer takes its vocabulary, else None."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            inner = item.get("config")
            if isinstance(inner, dict):
                for key in _PATH_KEYS:
                    if isinstance(inner.get(key), str) and inner[key]:
                        return str(item.get("class_name", "lookup")), inner[key]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _mib(size: int) -> str:
    return f"{size / MiB:.0f} MB" if size >= MiB else f"{size} bytes"
