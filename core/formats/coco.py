"""COCO object detection JSON: `images`, `annotations` (bbox = x, y, w, h in
pixels) and `categories`.

A HemaLabel export writes images/<image> and annotations.json, or one
annotations_<split>.json per split.  Each annotation also carries the exact
corners under "hemalabel_box": x + w is not always exactly the right corner
in floating point, and a round trip must give back every box exactly.  A
cell the lymphoid screen looked at carries its verdict under
"hemalabel_screen".  Other tools ignore the extra keys."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.formats import screen_columns
from core.formats.common import (
    MANIFEST_NAME,
    MAX_PIXELS,
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ExportPlan,
    ImportPlan,
    LabelledBox,
    atomic_copy,
    atomic_write_text,
    check_number,
    check_size,
    load_json,
    resolve_inside,
)
from core.jobs import CancelToken, Job, Progress
from core.safe_output import path_inside
from core.schema import Box

SPLITS = ("train", "val", "test")
_SPLIT_IN_NAME = re.compile(r"(^|[_\-.])(train|val|test)(\d*)($|[_\-.])")


def coco_files(root: Path) -> list[Path]:
    """The JSON files of a folder (or its annotations/ folder) that hold COCO
    annotations, judged by their first bytes so large files are not parsed twice."""
    found = []
    for folder in (root, root / "annotations"):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            if path.name == MANIFEST_NAME:
                continue
            try:
                with path.open("r", encoding="utf-8", errors="replace") as handle:
                    head = handle.read(65536)
            except OSError:
                continue
            if '"images"' in head or '"annotations"' in head or '"categories"' in head:
                found.append(path)
    return found


def looks_like_coco(root: Path) -> bool:
    return bool(coco_files(root))


def read_coco(root: Path, resolver: ClassResolver, files: list[Path] | None = None) -> ImportPlan:
    """Every COCO file of `root`.  Refuses, naming the file and entry:
    malformed JSON, missing or mistyped fields, duplicate ids or file names,
    annotations pointing at missing images or categories, image files outside
    `root` or missing."""
    files = files if files is not None else coco_files(root)
    if not files:
        raise AnnotationError(root, "", "no COCO annotation file (*.json with images, annotations, categories)")
    images: dict[Path, AnnotatedImage] = {}
    for path in files:
        for image in read_coco_file(path, root, resolver):
            known = images.get(image.path)
            if known is None:
                images[image.path] = image
            else:  # the same image in two files: its boxes join
                known.boxes.extend(image.boxes)
    return ImportPlan(images=list(images.values()), format="coco", warnings=resolver.unknown_warnings())


def read_coco_file(path: Path, root: Path, resolver: ClassResolver) -> list[AnnotatedImage]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise AnnotationError(path, "", "expected a JSON object with images, annotations and categories")
    sections = {}
    for key in ("images", "annotations", "categories"):
        value = data.get(key)
        if not isinstance(value, list):
            raise AnnotationError(path, key, "missing, or not a list")
        sections[key] = value
    split = _split_of(path)

    categories: dict[int, str] = {}
    for index, entry in enumerate(sections["categories"]):
        where = f"categories[{index}]"
        category_id = _int(entry, "id", path, where)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AnnotationError(path, where, "has no 'name'")
        if category_id in categories:
            raise AnnotationError(path, where, f"duplicate category id {category_id}")
        categories[category_id] = name

    by_id: dict[int, AnnotatedImage] = {}
    by_file: dict[Path, str] = {}
    for index, entry in enumerate(sections["images"]):
        where = f"images[{index}]"
        image_id = _int(entry, "id", path, where)
        if image_id in by_id:
            raise AnnotationError(path, where, f"duplicate image id {image_id}")
        file_name = entry.get("file_name")
        if not isinstance(file_name, str):
            raise AnnotationError(path, where, "has no 'file_name'")
        image_path = _find_image(root, path, file_name, f"{where} file_name")
        if image_path in by_file:
            raise AnnotationError(path, where, f"file {file_name!r} is listed twice (also {by_file[image_path]})")
        by_file[image_path] = where
        size = None
        if "width" in entry and "height" in entry:
            size = (
                check_size(_int(entry, "width", path, where), path, f"{where} width"),
                check_size(_int(entry, "height", path, where), path, f"{where} height"),
            )
        image = AnnotatedImage(path=image_path, size=size, origin=f"{path}:{where}", annotation=path)
        if split:
            image.attributes["split"] = split
        by_id[image_id] = image

    annotation_ids: set[int] = set()
    for index, entry in enumerate(sections["annotations"]):
        where = f"annotations[{index}]"
        annotation_id = _int(entry, "id", path, where)
        if annotation_id in annotation_ids:
            raise AnnotationError(path, where, f"duplicate annotation id {annotation_id}")
        annotation_ids.add(annotation_id)
        image_id = _int(entry, "image_id", path, where)
        category_id = _int(entry, "category_id", path, where)
        if image_id not in by_id:
            raise AnnotationError(path, where, f"image_id {image_id} is not in images")
        if category_id not in categories:
            raise AnnotationError(path, where, f"category_id {category_id} is not in categories")
        box = _box(entry, path, where)
        mapped = resolver.resolve(categories[category_id], path, where)
        if mapped is None:
            continue
        by_id[image_id].boxes.append(LabelledBox(box, *mapped, where=where))
    return list(by_id.values())


def _find_image(root: Path, annotation: Path, file_name: str, where: str) -> Path:
    """COCO file names are relative to an image folder the file does not name:
    look beside the JSON, in its images/ folder, and the same from `root`."""
    bases = [annotation.parent, annotation.parent / "images", root, root / "images"]
    seen = []
    for base in bases:
        if not base.resolve().is_relative_to(root.resolve()):
            continue
        candidate = resolve_inside(base, file_name, annotation, where)
        if candidate.is_file():
            return candidate
        seen.append(candidate)
    raise AnnotationError(annotation, where, f"image {file_name!r} not found (looked in {', '.join(map(str, seen))})")


def _int(entry: Any, key: str, path: Path, where: str) -> int:
    if not isinstance(entry, dict):
        raise AnnotationError(path, where, "expected an object")
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnnotationError(path, where, f"'{key}' must be an integer, found {_brief(value)}")
    return value


def _box(entry: dict[str, Any], path: Path, where: str) -> Box:
    bbox = entry.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise AnnotationError(path, where, f"'bbox' must be [x, y, width, height], found {_brief(bbox)}")
    x, y, w, h = (check_number(v, path, f"{where} bbox") for v in bbox)
    if w < 0 or h < 0:
        raise AnnotationError(path, where, f"'bbox' has a negative size: {bbox!r}")
    exact = entry.get("hemalabel_box")
    if isinstance(exact, list) and len(exact) == 4 and all(_is_number(v) for v in exact):
        x0, y0, x1, y1 = (float(v) for v in exact)
        # Trust the exact corners only while they agree with the bbox another
        # tool may have edited.
        if x0 <= x1 and y0 <= y1 and all(
            abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip((x0, y0, x1 - x0, y1 - y0), (x, y, w, h))
        ):
            return Box(x0, y0, x1, y1)
    return Box.from_xywh(x, y, w, h)


def _is_number(value: Any) -> bool:
    """A finite number in range: a huge int makes math.isfinite overflow."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= MAX_PIXELS if isinstance(value, int) else math.isfinite(value) and abs(value) <= MAX_PIXELS


def _brief(value: Any) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return "an unreadable value"
    return text if len(text) <= 80 else text[:77] + "..."


def _split_of(path: Path) -> str | None:
    """train / val / test from names such as annotations_train.json or
    instances_val2017.json."""
    match = _SPLIT_IN_NAME.search(path.stem.lower())
    return match.group(2) if match else None


# --------------------------------------------------------------------------- export

def export_coco(plan: ExportPlan, out: Path, cancel: CancelToken) -> Job[None]:
    """images/<image> and annotations.json (annotations_<split>.json when split)."""
    category_id = {name: index for index, name in enumerate(plan.class_names, start=1)}
    categories = [
        {"id": category_id[name], "name": name, "supercategory": kind.value} for name, kind, _ in plan.classes
    ]
    documents: dict[str | None, dict[str, Any]] = {}
    annotation_id = 0
    total = len(plan.images)
    for image_id, image in enumerate(plan.images, start=1):
        cancel.raise_if_cancelled()
        if plan.copy_images:
            atomic_copy(image.source, path_inside(out, "images", image.file_name, what=f"slide {image.slide.path}"))
        document = documents.setdefault(image.split, _document(categories))
        document["images"].append(
            {"id": image_id, "file_name": image.file_name, "width": image.slide.width, "height": image.slide.height}
        )
        for cell, class_name in image.cells:
            annotation_id += 1
            box = cell.box
            annotation: dict[str, Any] = {
                "id": annotation_id,
                "image_id": image_id,
                "category_id": category_id[class_name],
                "bbox": [box.x0, box.y0, box.width, box.height],
                "area": box.area,
                "iscrowd": 0,
                # The box as a polygon: some tools need a segmentation.
                "segmentation": [[box.x0, box.y0, box.x1, box.y0, box.x1, box.y1, box.x0, box.y1]],
                "hemalabel_box": list(box.as_tuple()),
            }
            screen = screen_columns.screen_fields(cell)
            if screen is not None:
                annotation["hemalabel_screen"] = screen
            document["annotations"].append(annotation)
        if image_id % 16 == 0 or image_id == total:
            yield Progress(image_id, total, f"prepared {image_id} of {total} COCO images")
    if not documents:
        documents[None] = _document(categories)
    for split in plan.splits:
        documents.setdefault(split, _document(categories))
    for part, document in documents.items():
        name = "annotations.json" if part is None else f"annotations_{part}.json"
        atomic_write_text(path_inside(out, name), json.dumps(document))


def _document(categories: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "info": {
            "description": "Exported by HemaLabel",
            "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "licenses": [],
        "images": [],
        "annotations": [],
        "categories": categories,
    }
