"""Smear fields in diagnosis folders, grouped by duplicates, split by group.

A field's label is its patient's diagnosis, the folder it lies in.  The
B-ALL set holds byte-identical and near-identical copies of fields: a copy
in train and another in test would score memory, not screening, so fields
are grouped by their bytes and by a perceptual hash (dHash: the signs of
horizontal brightness steps on a small grey thumbnail, which survive
re-encoding and small changes of brightness), and a split never divides a
group.  The split itself is core.training.splits', seeded and per class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from core.formats.folder import find_images
from core.imaging import ImageReadError, load_rgb
from core.training.samples import DatasetError, LabelledCell, file_digest
from core.training.splits import split_samples

# Folder names of the screen's diagnoses, in the model's output order.
BENIGN = "benign"
SUBTYPES = ("early", "pre", "pro")
DIAGNOSES = (BENIGN, *SUBTYPES)
SUBTYPE_NAMES = {"early": "early pre-B", "pre": "pre-B", "pro": "pro-B"}
# Two dHashes (64 bits) this close or closer are the same field: re-encoded
# or re-exposed copies differ by a few bits, different fields by about 32.
NEAR_DUPLICATE_BITS = 6


@dataclass(frozen=True, slots=True)
class Field:
    path: Path
    label: str  # one of DIAGNOSES
    group: str  # the duplicate group: equal for copies of one field

    @property
    def malignant(self) -> bool:
        return self.label != BENIGN


def dhash(image: NDArray[Any], side: int = 8) -> int:
    """A 64-bit perceptual hash of an RGB image (difference hash)."""
    grey = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (side + 1, side), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int("".join("1" if bit else "0" for bit in bits), 2)


def duplicate_groups(digests: Sequence[str], hashes: Sequence[int], near_bits: int = NEAR_DUPLICATE_BITS) -> list[str]:
    """A group name for each field: fields with equal bytes or dHashes within
    `near_bits` share one (transitively), named after the group's smallest
    digest so that it does not depend on the order of the files."""
    count = len(digests)
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first_of: dict[str, int] = {}
    for i, digest in enumerate(digests):
        join(i, first_of.setdefault(digest, i))
    if count:
        bits = np.array([[(h >> k) & 1 for k in range(64)] for h in hashes], np.uint8)
        for i in range(count - 1):
            distance = (bits[i + 1 :] != bits[i]).sum(axis=1)
            for j in np.flatnonzero(distance <= near_bits):
                join(i, i + 1 + int(j))
    members: dict[int, list[str]] = {}
    for i in range(count):
        members.setdefault(root(i), []).append(digests[i])
    name_of = {r: min(d) for r, d in members.items()}
    return [name_of[root(i)] for i in range(count)]


def list_fields(root: str | os.PathLike[str], skipped: list[tuple[str, str]] | None = None) -> list[Field]:
    """Every readable field under root/<diagnosis>/, grouped by duplicates.
    A folder that is not a diagnosis is an error naming the ones known;
    unreadable images go to `skipped` (path, reason)."""
    folder = Path(root)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in class_dirs if p.name.lower() not in DIAGNOSES]
    if unknown:
        raise DatasetError(f"{folder}: folders {unknown} are not diagnoses of the screen; "
                           f"expected {', '.join(DIAGNOSES)}")
    if not class_dirs:
        raise DatasetError(f"{folder}: holds no diagnosis folders (expected {folder}/<{'|'.join(DIAGNOSES)}>/*.jpg)")
    paths: list[Path] = []
    labels: list[str] = []
    digests: list[str] = []
    hashes: list[int] = []
    for class_dir in class_dirs:
        for path in find_images(class_dir):
            try:
                image = load_rgb(path)
            except ImageReadError as error:
                if skipped is not None:
                    skipped.append((str(path), error.reason))
                continue
            paths.append(path)
            labels.append(class_dir.name.lower())
            digests.append(file_digest(path))
            hashes.append(dhash(image))
    groups = duplicate_groups(digests, hashes)
    return [Field(path, label, group) for path, label, group in zip(paths, labels, groups)]


def split_fields(fields: Sequence[Field], val: float, test: float, seed: int) -> dict[str, list[Field]]:
    """train/val/test by duplicate group, per diagnosis, reproducible from
    (fields, fractions, seed) alone."""
    as_samples = [LabelledCell(field.path, None, field.label, field.group, "fields") for field in fields]
    by_path = {field.path: field for field in fields}
    parts = split_samples(as_samples, val, test, seed)
    return {name: [by_path[sample.path] for sample in samples] for name, samples in parts.items()}
