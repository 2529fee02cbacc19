"""YOLO: one txt per image (`class cx cy w h`, normalised), class names from
data.yaml, classes.txt or obj.names.  Both layouts are read: images/<split>/
beside labels/<split>/ (as TXL-PBC), or images and txt files side by side."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from core.formats import screen_columns
from core.formats.common import (
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ExportPlan,
    ImportPlan,
    LabelledBox,
    atomic_copy,
    atomic_write_text,
    check_number,
    read_text,
)
from core.formats.folder import find_images
from core.imaging import ImageReadError, stored_size
from core.jobs import CancelToken, Job, Progress
from core.safe_output import path_inside
from core.schema import Box, Cell, CellKind
from core.taxonomy import Taxonomy

SPLITS = ("train", "val", "test")
_CLASS_LISTS = ("classes.txt", "obj.names")
# Normalised coordinates written with few decimals overshoot the image by a
# fraction of a pixel; that is rounding, not a box outside the image.
_ROUNDING_PX = 0.5
# Normalised coordinates beyond this are damage, not a box.
_MAX_NORMALISED = 1000.0


def looks_like_yolo(root: Path) -> bool:
    if (root / "data.yaml").is_file() or (root / "classes.txt").is_file() or (root / "obj.names").is_file():
        return True
    return (root / "labels").is_dir() and any((root / "labels").rglob("*.txt"))


def read_class_names(root: Path) -> list[str]:
    data_yaml = root / "data.yaml"
    if data_yaml.is_file():
        return parse_data_yaml_names(data_yaml)
    for name in ("classes.txt", "obj.names"):
        listing = root / name
        if listing.is_file():
            return [line.strip() for line in read_text(listing).splitlines() if line.strip()]
    raise AnnotationError(root, "", "YOLO folder has no data.yaml, classes.txt or obj.names naming its classes")


def parse_data_yaml_names(path: Path) -> list[str]:
    """The `names` entry of a YOLO data.yaml: a flow list (`names: ['a', 'b']`)
    or a block of `index: name` or `- name` lines.  Only this entry is read,
    so no YAML library is needed."""
    lines = read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped.startswith("names:"):
            continue
        rest = stripped[len("names:"):].strip()
        if rest:
            try:
                value = ast.literal_eval(rest)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise AnnotationError(path, f"line {number}", f"cannot read names list {rest!r}") from None
            if isinstance(value, dict):
                return _names_by_index(value, path, f"line {number}")
            if isinstance(value, (list, tuple)):
                return [str(item) for item in value]
            raise AnnotationError(path, f"line {number}", "names must be a list or a mapping")
        names: dict[int, str] = {}
        for offset, item in enumerate(lines[number:], start=number + 1):
            text = item.split("#", 1)[0].strip()
            if not text:
                continue
            if not item.startswith((" ", "\t")):
                break
            if text.startswith("- "):
                names[len(names)] = text[2:].strip().strip("'\"")
            elif ":" in text:
                key, value = text.split(":", 1)
                try:
                    names[int(key)] = value.strip().strip("'\"")
                except ValueError:
                    raise AnnotationError(path, f"line {offset}", f"expected 'index: name', found {text!r}") from None
        return _names_by_index(names, path, f"line {number}")
    raise AnnotationError(path, "", "has no 'names' entry")


def _names_by_index(names: dict[Any, Any], path: Path, where: str) -> list[str]:
    """A `names` mapping as the list of class names by index.  Its keys must
    be the indices 0 to n-1: a key of another type ('a', 1.5) or a missing
    index would shift every class after it onto the wrong boxes."""
    for key in names:
        if isinstance(key, bool) or not isinstance(key, int):
            raise AnnotationError(path, where,
                                  f"names mapping has the key {key!r}; keys must be class indices 0, 1, 2...")
    if sorted(names) != list(range(len(names))):
        raise AnnotationError(path, where, f"names mapping must number the classes 0 to {len(names) - 1} without gaps")
    return [str(names[key]) for key in range(len(names))]


def label_file_for(image: Path, root: Path) -> Path:
    """images/<split>/x.jpg -> labels/<split>/x.txt, else x.txt beside the image."""
    relative = image.relative_to(root)
    if relative.parts and relative.parts[0] == "images":
        return root.joinpath("labels", *relative.parts[1:-1], image.stem + ".txt")
    return image.with_suffix(".txt")


def read_yolo(
    root: Path,
    taxonomy: Taxonomy,
    split: str | None = None,
    resolver: ClassResolver | None = None,
    clip: bool = True,
) -> ImportPlan:
    """Every image of a YOLO folder with the boxes of its label file.  Boxes of
    classes the resolver does not know are left out and recorded in
    `resolver.unknown`, one count per box.  With clip=False only the rounding
    of normalised coordinates (half a pixel) is clipped here; boxes reaching
    further out are left for the import to clip with a warning."""
    resolver = resolver or ClassResolver(taxonomy)
    names = read_class_names(root)
    mapping = [resolver.lookup(name) for name in names]
    images = []
    for image_path in find_images(root):
        image_split = _split_of(image_path, root)
        if split is not None and image_split != split:
            continue
        image = AnnotatedImage(path=image_path)
        if image_split:
            image.attributes["split"] = image_split
        labels = label_file_for(image_path, root)
        if labels.is_file():
            image.size = _image_size(image_path)
            if image.size is not None:
                image.boxes = read_label_file(labels, image.size, names, mapping, resolver, clip)
            image.origin, image.annotation = str(labels), labels
        images.append(image)
    if not clip:
        _refuse_orphan_labels(root, images, split)
    return ImportPlan(images=images, format="yolo", warnings=resolver.unknown_warnings())


def _refuse_orphan_labels(root: Path, images: list[AnnotatedImage], split: str | None) -> None:
    """A label file whose image is missing: boxes that cannot be imported,
    so the import is refused rather than silently short."""
    used = {label_file_for(image.path, root) for image in images}
    labels_root = root / "labels" if (root / "labels").is_dir() else root
    for path in sorted(labels_root.rglob("*.txt")):
        if path.name in _CLASS_LISTS or path in used or any(part.startswith(".") for part in path.parts):
            continue
        part_split = _split_of(path, root)
        if split is not None and part_split != split:
            continue
        raise AnnotationError(path, "", "label file without an image (no image of the same name found)")


def read_label_file(
    path: Path,
    size: tuple[int, int],
    names: list[str],
    mapping: list[tuple[CellKind, str | None] | None],
    resolver: ClassResolver | None = None,
    clip: bool = True,
) -> list[LabelledBox]:
    width, height = size
    boxes = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {number}"
        if len(fields) != 5:
            raise AnnotationError(path, where, f"expected 'class cx cy w h', found {line.strip()!r}")
        try:
            class_index = int(fields[0])
            values = [float(value) for value in fields[1:]]
        except ValueError:
            raise AnnotationError(path, where, f"expected numbers, found {line.strip()!r}") from None
        # Normalised: a few image sizes out is already far outside the image.
        cx, cy, w, h = (check_number(value, path, where, limit=_MAX_NORMALISED) for value in values)
        if not 0 <= class_index < len(names):
            raise AnnotationError(path, f"line {number}", f"class {class_index} is not one of the {len(names)} named")
        if w < 0 or h < 0:
            raise AnnotationError(path, f"line {number}", "box has a negative size")
        mapped = mapping[class_index]
        if mapped is None:
            if resolver is not None:
                resolver.note_unknown(names[class_index], path, f"line {number}")
            continue
        box = Box((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
        if clip or _overshoot(box, width, height) <= _ROUNDING_PX:
            box = box.clipped(width, height)
        boxes.append(LabelledBox(box, *mapped, where=f"line {number}"))
    return boxes


def _overshoot(box: Box, width: int, height: int) -> float:
    return max(-box.x0, -box.y0, box.x1 - width, box.y1 - height, 0.0)


def _split_of(image: Path, root: Path) -> str | None:
    for part in image.relative_to(root).parts[:-1]:
        if part in SPLITS:
            return part
    return None


def _image_size(path: Path) -> tuple[int, int] | None:
    """The stored size (YOLO boxes are normalised to it); None if the image
    cannot be read, which the import then lists."""
    try:
        return stored_size(path)
    except ImageReadError:
        return None


# --------------------------------------------------------------------------- export

def export_yolo(plan: ExportPlan, out: Path, cancel: CancelToken) -> Job[None]:
    """images/[split/]<image>, labels/[split/]<stem>.txt, data.yaml and
    classes.txt, as Ultralytics and TXL-PBC lay them out; screen.csv when
    the lymphoid screen looked at an exported cell."""
    index_of = {name: index for index, name in enumerate(plan.class_names)}
    total = len(plan.images)
    screen_rows: list[tuple[tuple[str, int, int], Cell]] = []
    for number, image in enumerate(plan.images, start=1):
        cancel.raise_if_cancelled()
        folder = Path(image.split) if image.split else Path()
        what = f"slide {image.slide.path}"
        if plan.copy_images:
            atomic_copy(image.source, path_inside(out, "images", folder, image.file_name, what=what))
        width, height = image.slide.width, image.slide.height
        lines = []
        label_file = Path("labels", folder, Path(image.file_name).stem + ".txt")
        for line, (cell, class_name) in enumerate(image.cells, start=1):
            screen_rows.append(((label_file.as_posix(), line, cell.id), cell))
            (cx, cy), box = cell.box.centre, cell.box
            # Six decimals of the image size: under 0.01 px for images up to 10,000 px.
            lines.append(
                f"{index_of[class_name]} {cx / width:.6f} {cy / height:.6f} "
                f"{box.width / width:.6f} {box.height / height:.6f}\n"
            )
        atomic_write_text(path_inside(out, label_file, what=what), "".join(lines))
        if number % 16 == 0 or number == total:
            yield Progress(number, total, f"wrote {number} of {total} YOLO label files")
    atomic_write_text(path_inside(out, "data.yaml"), data_yaml(plan))
    atomic_write_text(path_inside(out, "classes.txt"), "".join(f"{name}\n" for name in plan.class_names))
    # A label file's line has no room for the screen's verdict.
    if screen_columns.any_screened([cell for _, cell in screen_rows]):
        screen_columns.write_sidecar(out, ("label_file", "line", "cell_id"), screen_rows)


def data_yaml(plan: ExportPlan) -> str:
    lines = ["# Written by HemaLabel.", "path: ."]
    for split in plan.splits or ["train"]:
        lines.append(f"{split}: images/{split}" if plan.splits else f"{split}: images")
    lines.append(f"nc: {len(plan.class_names)}")
    # A flow list of quoted names is valid YAML and what parse_data_yaml_names reads.
    lines.append("names: [" + ", ".join(repr(name) for name in plan.class_names) + "]")
    return "\n".join(lines) + "\n"
