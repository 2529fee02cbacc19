"""Detection over a folder of images (no project), and the files it writes:
one Pascal VOC XML per image (class names as BCCD's, so the output can be
read back as ground truth) or one CSV for all."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.detection.colour_turns import ColourTurner, HueTurn
from core.detection.familiarity import FieldVerdict
from core.detection.magnification import Magnification
from core.formats.common import atomic_write_text
from core.imaging import ImageReadError, load_rgb
from core.inference import CellDetector, Detection, detect_in_bands
from core.jobs import CancelToken, Job, Progress
from core.schema import CellKind
from core.wording import counted

VOC_NAMES = {CellKind.WHITE: "WBC", CellKind.RED: "RBC", CellKind.PLATELET: "Platelets"}
CSV_COLUMNS = ("image", "kind", "score", "x0", "y0", "x1", "y1")


@dataclass(slots=True)
class ImageDetections:
    path: Path
    width: int
    height: int
    detections: list[Detection]
    # Whether the image is unlike the detector's training fields (None: not
    # judged, see core.inference.judge_detections).
    verdict: FieldVerdict | None = None
    # The colours an unlike image's detections were found in; None: its own.
    turn: HueTurn | None = None
    # The scale it was looked at (None: not measured, e.g. a scan read in bands).
    magnification: Magnification | None = None


@dataclass(slots=True)
class FolderDetectionReport:
    images: list[ImageDetections] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # path, reason


def detect_images(
    detector: CellDetector, paths: Sequence[Path], cancel: CancelToken | None = None
) -> Job[FolderDetectionReport]:
    """Detect cells on each image; unreadable images are listed and skipped.
    Yields Progress with the ImageDetections (or None) as payload."""
    cancel = cancel or CancelToken()
    report = FolderDetectionReport()
    turner = ColourTurner(detector)
    for index, path in enumerate(paths, start=1):
        cancel.raise_if_cancelled()
        try:
            # A large scan is read in bands of rows, never held whole.
            banded = yield from detect_in_bands(detector, path, str(path), index - 1, len(paths), cancel)
            verdict, turn, magnification = None, None, None
            if banded is None:
                image = load_rgb(path)
                seen = turner.detect(image)
                banded, verdict, turn = (seen.detections, image.shape[1], image.shape[0]), seen.verdict, seen.turn
                magnification = seen.magnification
                del image
        except ImageReadError as error:
            report.skipped.append((str(path), error.reason))
            yield Progress(index, len(paths), f"{path}: {error.reason}")
            continue
        detections, width, height = banded
        result = ImageDetections(Path(path), width, height, detections, verdict, turn, magnification)
        report.images.append(result)
        yield Progress(index, len(paths), f"{counted(len(result.detections), 'cell')} on {path}", payload=result)
    return report


def voc_xml(result: ImageDetections, image_name: str) -> str:
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "folder").text = "JPEGImages"
    ElementTree.SubElement(root, "filename").text = image_name
    # labelImg's <path>: where the image is, since it is not copied beside the XML.
    ElementTree.SubElement(root, "path").text = str(result.path.resolve())
    size = ElementTree.SubElement(root, "size")
    for tag, value in (("width", result.width), ("height", result.height), ("depth", 3)):
        ElementTree.SubElement(size, tag).text = str(value)
    for detection in result.detections:
        obj = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(obj, "name").text = VOC_NAMES[detection.kind]
        ElementTree.SubElement(obj, "score").text = f"{detection.score:.4f}"
        box = ElementTree.SubElement(obj, "bndbox")
        for tag, coordinate in zip(("xmin", "ymin", "xmax", "ymax"), detection.box.as_tuple()):
            ElementTree.SubElement(box, tag).text = f"{coordinate:.1f}"
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode") + "\n"


def write_voc(report: FolderDetectionReport, images_root: Path, out_dir: Path) -> list[Path]:
    """One XML per image under out_dir/Annotations, mirroring sub-folders;
    <filename> is the image's path relative to images_root."""
    written = []
    for result in report.images:
        relative = result.path.resolve().relative_to(images_root.resolve())
        target = out_dir / "Annotations" / relative.with_suffix(".xml")
        atomic_write_text(target, voc_xml(result, relative.as_posix()))
        written.append(target)
    return written


def write_csv(report: FolderDetectionReport, images_root: Path, out_file: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in report.images:
        name = result.path.resolve().relative_to(images_root.resolve()).as_posix()
        for d in result.detections:
            writer.writerow([name, d.kind.value, f"{d.score:.4f}", *(f"{v:.1f}" for v in d.box.as_tuple())])
    atomic_write_text(out_file, buffer.getvalue())
    return out_file
