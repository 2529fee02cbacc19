"""Pascal VOC: one XML file per image, laid out as BCCD is
(Annotations/*.xml, JPEGImages/*, ImageSets/Main/{train,val,test}.txt)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from core.formats.common import AnnotatedImage, AnnotationError, ImportPlan, LabelledBox, kind_and_label, resolve_inside
from core.schema import Box
from core.taxonomy import Taxonomy


def looks_like_voc(root: Path) -> bool:
    return (root / "Annotations").is_dir() and any((root / "Annotations").glob("*.xml"))


def read_voc(root: Path, taxonomy: Taxonomy) -> ImportPlan:
    annotations_dir = root / "Annotations" if (root / "Annotations").is_dir() else root
    splits = read_image_sets(root)
    images = []
    unknown: dict[str, int] = {}
    for xml_path in sorted(annotations_dir.glob("*.xml")):
        image = read_voc_file(xml_path, root, taxonomy, unknown)
        split = splits.get(xml_path.stem)
        if split:
            image.attributes["split"] = split
        images.append(image)
    warnings = [f"skipped {count} box(es) of unknown class {name!r}" for name, count in sorted(unknown.items())]
    return ImportPlan(images=images, format="voc", warnings=warnings)


def read_voc_file(xml_path: Path, root: Path, taxonomy: Taxonomy, unknown: dict[str, int]) -> AnnotatedImage:
    try:
        tree = ElementTree.parse(xml_path)
    except ElementTree.ParseError as error:
        line, column = error.position
        raise AnnotationError(xml_path, f"{line}:{column}", f"malformed XML ({error})") from None
    annotation = tree.getroot()
    if annotation.tag != "annotation":
        raise AnnotationError(xml_path, f"<{annotation.tag}>", "root element must be <annotation>")
    filename = _text(annotation, "filename", xml_path, "<annotation>")
    image_path = _find_image(root, xml_path, filename, annotation.findtext("folder") or "")
    size = None
    size_element = annotation.find("size")
    if size_element is not None:
        width = _number(size_element, "width", xml_path, "<size>")
        height = _number(size_element, "height", xml_path, "<size>")
        size = (int(width), int(height))
    boxes = []
    for index, obj in enumerate(annotation.iter("object"), start=1):
        where = f"<object> #{index}"
        name = _text(obj, "name", xml_path, where)
        mapped = kind_and_label(name, taxonomy)
        if mapped is None:
            unknown[name] = unknown.get(name, 0) + 1
            continue
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise AnnotationError(xml_path, where, "has no <bndbox>")
        x0, y0, x1, y1 = (_number(bndbox, tag, xml_path, f"{where} <bndbox>") for tag in ("xmin", "ymin", "xmax", "ymax"))
        if x1 < x0 or y1 < y0:
            raise AnnotationError(xml_path, where, f"box corners are reversed ({x0}, {y0}, {x1}, {y1})")
        boxes.append(LabelledBox(Box(x0, y0, x1, y1), *mapped))
    return AnnotatedImage(path=image_path, boxes=boxes, size=size)


def read_image_sets(root: Path) -> dict[str, str]:
    """Which split each image belongs to, from ImageSets/Main/{train,val,test}.txt."""
    splits: dict[str, str] = {}
    main = root / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        listing = main / f"{split}.txt"
        if listing.is_file():
            for line in listing.read_text(encoding="utf-8").split():
                splits.setdefault(line.strip(), split)
    return splits


def _find_image(root: Path, xml_path: Path, filename: str, folder: str) -> Path:
    where = "<filename>"
    candidates = [f"JPEGImages/{filename}", filename]
    if folder and folder != "JPEGImages":
        candidates.insert(0, f"{folder}/{filename}")
    resolved = [resolve_inside(root, name, xml_path, where) for name in candidates]
    for path in resolved:
        if path.is_file():
            return path
    return resolved[0]  # missing: the import lists it as such


def _text(element: ElementTree.Element, tag: str, path: Path, where: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise AnnotationError(path, where, f"missing <{tag}>")
    return child.text.strip()


def _number(element: ElementTree.Element, tag: str, path: Path, where: str) -> float:
    text = _text(element, tag, path, where)
    try:
        return float(text)
    except ValueError:
        raise AnnotationError(path, f"{where} <{tag}>", f"expected a number, found {text!r}") from None
