"""Pascal VOC: one XML file per image, laid out as BCCD is
(Annotations/*.xml, JPEGImages/*, ImageSets/Main/{train,val,test}.txt).
An object the lymphoid screen looked at ends with <hemalabel_screen>, its
verdict; VOC readers pass over elements they do not know."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from core.formats import screen_columns
from core.formats.common import (
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ExportImage,
    ExportPlan,
    ImportPlan,
    LabelledBox,
    atomic_copy,
    atomic_write_text,
    check_size,
    format_number,
    parse_number,
    read_text,
    resolve_inside,
)
from core.jobs import CancelToken, Job, Progress
from core.safe_output import path_inside
from core.schema import Box
from core.taxonomy import Taxonomy


def looks_like_voc(root: Path) -> bool:
    return (root / "Annotations").is_dir() and any((root / "Annotations").glob("*.xml"))


def read_voc(root: Path, taxonomy: Taxonomy, resolver: ClassResolver | None = None) -> ImportPlan:
    """Every Annotations/*.xml of a VOC folder.  Boxes of classes the
    resolver does not know are left out and recorded in `resolver.unknown`."""
    resolver = resolver or ClassResolver(taxonomy)
    annotations_dir = root / "Annotations" if (root / "Annotations").is_dir() else root
    splits = read_image_sets(root)
    images = []
    unknown: dict[str, int] = {}
    named: dict[Path, Path] = {}
    for xml_path in sorted(annotations_dir.glob("*.xml")):
        image = read_voc_file(xml_path, root, taxonomy, unknown, resolver)
        if image.path in named:
            raise AnnotationError(
                xml_path, "<filename>", f"names the same image as {named[image.path].name} ({image.path.name})"
            )
        named[image.path] = xml_path
        split = splits.get(xml_path.stem)
        if split:
            image.attributes["split"] = split
        images.append(image)
    return ImportPlan(images=images, format="voc", warnings=resolver.unknown_warnings())


def read_voc_file(
    xml_path: Path,
    root: Path,
    taxonomy: Taxonomy,
    unknown: dict[str, int],
    resolver: ClassResolver | None = None,
) -> AnnotatedImage:
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
        size = (check_size(width, xml_path, "<size> <width>"), check_size(height, xml_path, "<size> <height>"))
    boxes = []
    for index, obj in enumerate(annotation.iter("object"), start=1):
        where = f"<object> #{index}"
        name = _text(obj, "name", xml_path, where)
        mapped = (resolver or ClassResolver(taxonomy)).resolve(name, xml_path, where)
        if mapped is None:
            unknown[name] = unknown.get(name, 0) + 1
            continue
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise AnnotationError(xml_path, where, "has no <bndbox>")
        x0, y0, x1, y1 = (
            _number(bndbox, tag, xml_path, f"{where} <bndbox>") for tag in ("xmin", "ymin", "xmax", "ymax")
        )
        if x1 < x0 or y1 < y0:
            raise AnnotationError(xml_path, where, f"box corners are reversed ({x0}, {y0}, {x1}, {y1})")
        boxes.append(LabelledBox(Box(x0, y0, x1, y1), *mapped, where=where))
    return AnnotatedImage(path=image_path, boxes=boxes, size=size, origin=f"{xml_path}:<filename>", annotation=xml_path)


def read_image_sets(root: Path) -> dict[str, str]:
    """Which split each image belongs to, from ImageSets/Main/{train,val,test}.txt."""
    splits: dict[str, str] = {}
    main = root / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        listing = main / f"{split}.txt"
        if listing.is_file():
            for line in read_text(listing).split():
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
    # An annotation without its image cannot be reviewed or trained on: the
    # whole source is refused rather than imported with holes.
    raise AnnotationError(xml_path, where, f"image {filename!r} not found (looked in {', '.join(candidates)})")


def _text(element: ElementTree.Element, tag: str, path: Path, where: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise AnnotationError(path, where, f"missing <{tag}>")
    return child.text.strip()


def _number(element: ElementTree.Element, tag: str, path: Path, where: str) -> float:
    return parse_number(_text(element, tag, path, where), path, f"{where} <{tag}>")


# --------------------------------------------------------------------------- export

def export_voc(plan: ExportPlan, out: Path, cancel: CancelToken) -> Job[None]:
    """Annotations/<stem>.xml, JPEGImages/<image> and, when split,
    ImageSets/Main/{train,val,test,trainval}.txt: the layout BCCD uses."""
    total = len(plan.images)
    stems: dict[str, list[str]] = {split: [] for split in plan.splits}
    for index, image in enumerate(plan.images, start=1):
        cancel.raise_if_cancelled()
        what = f"slide {image.slide.path}"
        if plan.copy_images:
            atomic_copy(image.source, path_inside(out, "JPEGImages", image.file_name, what=what))
        annotation = path_inside(out, "Annotations", Path(image.file_name).stem + ".xml", what=what)
        atomic_write_text(annotation, voc_xml(image.file_name, image))
        if image.split:
            stems[image.split].append(Path(image.file_name).stem)
        if index % 16 == 0 or index == total:
            yield Progress(index, total, f"wrote {index} of {total} VOC annotations")
    for split, names in stems.items():
        atomic_write_text(path_inside(out, "ImageSets", "Main", f"{split}.txt"), "".join(f"{name}\n" for name in names))
    if {"train", "val"} <= set(stems):
        trainval = stems["train"] + stems["val"]
        listing = path_inside(out, "ImageSets", "Main", "trainval.txt")
        atomic_write_text(listing, "".join(f"{name}\n" for name in trainval))


def voc_xml(file_name: str, image: ExportImage) -> str:
    """One image's annotation.  Coordinates are written as the shortest text
    that reads back as the same float, so a round trip is exact."""
    slide = image.slide
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "folder").text = "JPEGImages"
    ElementTree.SubElement(root, "filename").text = file_name
    source = ElementTree.SubElement(root, "source")
    ElementTree.SubElement(source, "database").text = "HemaLabel export"
    size = ElementTree.SubElement(root, "size")
    ElementTree.SubElement(size, "width").text = str(slide.width)
    ElementTree.SubElement(size, "height").text = str(slide.height)
    ElementTree.SubElement(size, "depth").text = "3"
    ElementTree.SubElement(root, "segmented").text = "0"
    for cell, class_name in image.cells:
        obj = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(obj, "name").text = class_name
        ElementTree.SubElement(obj, "pose").text = "Unspecified"
        ElementTree.SubElement(obj, "truncated").text = "0"
        ElementTree.SubElement(obj, "difficult").text = "0"
        bndbox = ElementTree.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), cell.box.as_tuple()):
            ElementTree.SubElement(bndbox, tag).text = format_number(value)
        screen = screen_columns.screen_fields(cell)
        if screen is not None:
            verdict = ElementTree.SubElement(obj, "hemalabel_screen")
            for tag, value in screen.items():
                ElementTree.SubElement(verdict, tag).text = repr(value) if isinstance(value, float) else value
    ElementTree.indent(root, space="\t")
    return ElementTree.tostring(root, encoding="unicode") + "\n"
