"""A folder of images to review: no annotations, every image a slide."""

from __future__ import annotations

from pathlib import Path

from core.formats.common import AnnotatedImage, ImportPlan
from core.imaging import is_image_file


def find_images(root: Path) -> list[Path]:
    """Every image below `root`, recursively, in a stable order; hidden
    folders (.git, .thumbnails) are skipped."""
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and is_image_file(path):
            found.append(path)
    return found


def read_folder(root: Path) -> ImportPlan:
    return ImportPlan(images=[AnnotatedImage(path=path) for path in find_images(root)], format="folder")
