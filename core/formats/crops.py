"""Class-folder crops: [split/]<class>/<image>, one cell per image, as PBC and
most classifier tools expect.

A crop is `core.crops.crop_square` of the cell's box with a margin, the very
crop training and inference use, optionally resized to a fixed size.  On
import every crop becomes a slide holding one cell; the cell's box is the
crop less the margin the export recorded (the whole image otherwise)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from core.crops import crop_square
from core.formats import screen_columns
from core.formats.common import (
    AnnotatedImage,
    AnnotationError,
    ClassResolver,
    ExportImage,
    ExportPlan,
    ImportPlan,
    LabelledBox,
    atomic_write_bytes,
)
from core.formats.folder import find_images
from core.imaging import ImageReadError, is_image_file, load_rgb, stored_size
from core.jobs import CancelToken, Job, Progress
from core.safe_output import path_inside
from core.schema import Box
from core.wording import counted

SPLITS = ("train", "val", "test")
CROP_FORMATS = ("png", "jpg")
_JPEG_QUALITY = 95

# Decoding a slide and encoding its crops release the GIL inside OpenCV and
# Pillow, so two threads use two cores; more would only fight over them.
_WORKERS = 2


def read_crops(root: Path, resolver: ClassResolver, margin: float = 0.0, split: str | None = None) -> ImportPlan:
    """Every image under a class folder of `root` (or of root/<split>/)."""
    if margin < 0:
        raise AnnotationError(root, "", f"crop margin must not be negative, found {margin}")
    folders = [path for path in sorted(root.iterdir()) if path.is_dir() and not path.name.startswith(".")]
    class_folders: list[tuple[str | None, Path]]
    if folders and all(path.name in SPLITS for path in folders):
        class_folders = [
            (folder.name, sub)
            for folder in folders
            if split is None or folder.name == split
            for sub in sorted(folder.iterdir())
            if sub.is_dir() and not sub.name.startswith(".")
        ]
    else:
        class_folders = [(None, folder) for folder in folders]
    warnings = []
    loose = [path.name for path in root.iterdir() if path.is_file() and is_image_file(path)]
    if loose:
        warnings.append(
            f"{root}: {counted(len(loose), 'image')} outside any class folder ignored, e.g. {sorted(loose)[0]}"
        )
    images = []
    for image_split, folder in class_folders:
        mapped = resolver.lookup(folder.name)
        for path in find_images(folder):
            if mapped is None:
                resolver.note_unknown(folder.name, path, "")
                continue
            size = _image_size(path)
            image = AnnotatedImage(path=path, size=size, origin=str(path))
            if image_split:
                image.attributes["split"] = image_split
            if size is not None:
                image.boxes.append(LabelledBox(inner_box(size, margin), *mapped, where=str(path.name)))
            images.append(image)
    return ImportPlan(images=images, format="crops", warnings=warnings + resolver.unknown_warnings())


def inner_box(size: tuple[int, int], margin: float) -> Box:
    """The cell's box inside a crop cut with `margin` on each side."""
    width, height = size
    side_w, side_h = width / (1.0 + 2.0 * margin), height / (1.0 + 2.0 * margin)
    x0, y0 = (width - side_w) / 2.0, (height - side_h) / 2.0
    return Box(x0, y0, x0 + side_w, y0 + side_h)


def _image_size(path: Path) -> tuple[int, int] | None:
    try:
        return stored_size(path)
    except ImageReadError:
        return None  # the import's image check lists it


# --------------------------------------------------------------------------- export

def crop_file_name(image: ExportImage, cell_id: int, crop_format: str) -> str:
    return f"{Path(image.file_name).stem}_cell{cell_id}.{crop_format}"


def crop_path(image: ExportImage, cell_id: int, class_name: str, crop_format: str) -> str:
    """Where a cell's crop lies in the export: [split/]<class>/<file>."""
    parts = [image.split] if image.split else []
    return "/".join([*parts, class_name, crop_file_name(image, cell_id, crop_format)])


def export_crops(plan: ExportPlan, out: Path, cancel: CancelToken) -> Job[None]:
    """One image per cell in <split>/<class>/ (or <class>/ when not split);
    screen.csv when the lymphoid screen looked at an exported cell."""
    if plan.crop_format not in CROP_FORMATS:
        raise ValueError(f"crop format must be one of {', '.join(CROP_FORMATS)}, not {plan.crop_format!r}")
    total = plan.cell_count
    done = 0
    first_cell: dict[str, str] = {}
    for image in plan.images:
        for cell, name in image.cells:
            first_cell.setdefault(name, f"cell {cell.id} of {image.slide.path}")
    for name in plan.class_names:
        what = f"{first_cell.get(name, 'class')} (class {name!r})"
        for split in plan.splits or [""]:
            path_inside(out, *([split] if split else []), name, what=what).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        # Submit a few slides ahead only, so a cancel stops promptly and memory
        # holds a handful of decoded slides, not the whole project.
        pending = []
        images = iter(plan.images)
        for image in images:
            pending.append(pool.submit(_write_slide_crops, plan, image, out))
            if len(pending) >= 2 * _WORKERS:
                break
        while pending:
            done += pending.pop(0).result()
            if cancel.cancelled:
                for future in pending:
                    future.cancel()
                cancel.raise_if_cancelled()
            nxt = next(images, None)
            if nxt is not None:
                pending.append(pool.submit(_write_slide_crops, plan, nxt, out))
            yield Progress(done, total, f"wrote {done} of {total} crops")
    # A crop's class folder has no room for the screen's verdict.
    screen_rows = [((crop_path(image, cell.id, name, plan.crop_format), cell.id), cell)
                   for image in plan.images for cell, name in image.cells]
    if screen_columns.any_screened([cell for _, cell in screen_rows]):
        screen_columns.write_sidecar(out, ("crop", "cell_id"), screen_rows)


def _write_slide_crops(plan: ExportPlan, image: ExportImage, out: Path) -> int:
    if not image.cells:
        return 0
    pixels = load_rgb(image.source)
    extension = ".png" if plan.crop_format == "png" else ".jpg"
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if extension == ".png" else [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
    for cell, class_name in image.cells:
        crop = crop_square(pixels, cell.box, plan.crop_margin)
        if plan.crop_size:
            side = crop.shape[0]
            interpolation = cv2.INTER_AREA if side > plan.crop_size else cv2.INTER_LINEAR
            crop = cv2.resize(crop, (plan.crop_size, plan.crop_size), interpolation=interpolation)
        ok, encoded = cv2.imencode(extension, np.ascontiguousarray(crop[:, :, ::-1]), params)
        if not ok:
            raise OSError(f"could not encode the crop of cell {cell.id} of {image.slide.path}")
        target = path_inside(
            out, crop_path(image, cell.id, class_name, plan.crop_format),
            what=f"cell {cell.id} of {image.slide.path} (class {class_name!r})",
        )
        atomic_write_bytes(target, encoded.tobytes())
    return len(image.cells)
