"""Importing folders, Pascal VOC and YOLO into a project, and refusing bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.formats.common import AnnotationError
from core.imaging import probe_image
from core.importing import detect_format, import_source
from core.jobs import Cancelled, CancelToken, run_job
from core.schema import CellKind
from core.store import ProjectStore
from tests.core.images import write_image, write_truncated_jpeg


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    yield store
    store.close()


def write_voc(folder: Path, stem: str, objects: list[tuple[str, int, int, int, int]],
              filename: str | None = None) -> Path:
    xml_objects = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects
    )
    path = folder / "Annotations" / f"{stem}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><folder>JPEGImages</folder><filename>{filename or stem + '.jpg'}</filename>"
        f"<size><width>64</width><height>48</height><depth>3</depth></size>{xml_objects}</annotation>"
    )
    return path


def make_voc_dataset(root: Path) -> Path:
    write_image(root / "JPEGImages" / "BloodImage_00001.jpg")
    write_image(root / "JPEGImages" / "BloodImage_00002.jpg", seed=1)
    write_voc(root, "BloodImage_00001", [("WBC", 10, 10, 30, 30), ("RBC", 40, 5, 50, 15), ("Platelets", 1, 1, 4, 4)])
    write_voc(root, "BloodImage_00002", [("WBC", 5, 5, 20, 20), ("WBC", 30, 20, 50, 40)])
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("BloodImage_00001\n")
    (root / "ImageSets" / "Main" / "test.txt").write_text("BloodImage_00002\n")
    (root / "wbc_subtypes.csv").write_text(",Image,Category\n,1,LYMPHOCYTE\n,2,\"NEUTROPHIL, MONOCYTE\"\n")
    return root


def test_a_folder_imports_recursively_and_skips_unreadable_images(project: ProjectStore, tmp_path: Path) -> None:
    source = tmp_path / "slides"
    write_image(source / "a.png")
    write_image(source / "deeper" / "b.tif")
    write_image(source / "c.bmp")
    write_image(source / "d.JPG")
    write_truncated_jpeg(source / "broken.jpg")
    (source / "notes.txt").write_text("not an image")
    (source / "fake.png").write_text("not a png either")
    report = run_job(import_source(project, source))
    assert report.format == "folder" and report.slides_added == 4
    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert set(skipped) == {"broken.jpg", "fake.png"}
    assert "truncated" in skipped["broken.jpg"] and "not an image" in skipped["fake.png"]
    assert {Path(s.path).name for s in project.slides()} == {"a.png", "b.tif", "c.bmp", "d.JPG"}


def test_importing_the_same_folder_twice_adds_nothing(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    run_job(import_source(project, source))
    again = run_job(import_source(project, source))
    assert (again.slides_added, again.cells_added, again.cells_duplicate) == (0, 0, 5)
    assert len(project.slides()) == 2 and len(project.cells()) == 5


def test_an_image_that_changed_size_since_it_was_imported_gets_no_new_boxes(
    project: ProjectStore, tmp_path: Path
) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    run_job(import_source(project, source))
    write_image(source / "JPEGImages" / "BloodImage_00001.jpg", 32, 24)  # was 64x48
    write_voc(source, "BloodImage_00001", [("WBC", 2, 2, 12, 12)])
    again = run_job(import_source(project, source))
    skipped = {Path(path).name: reason for path, reason in again.skipped}
    assert "was 64x48" in skipped["BloodImage_00001.jpg"] and "not imported" in skipped["BloodImage_00001.jpg"]
    assert len(project.cells()) == 5  # none drawn on the new pixels mixed with the old


def test_boxes_for_a_signed_off_slide_are_listed_and_the_rest_imported(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    run_job(import_source(project, source))
    locked = next(s for s in project.slides() if s.path.endswith("BloodImage_00001.jpg"))
    project.sign_off(locked.id, "tech", below_target_reason="test field")
    write_voc(source, "BloodImage_00001", [("WBC", 40, 30, 60, 45)])
    write_voc(source, "BloodImage_00002", [("WBC", 5, 5, 20, 20), ("WBC", 30, 20, 50, 40), ("RBC", 1, 1, 9, 9)])
    again = run_job(import_source(project, source))
    skipped = {Path(path).name: reason for path, reason in again.skipped}
    assert skipped["BloodImage_00001.jpg"].startswith("signed off, so its 1 new box was not imported")
    assert again.cells_added == 1 and len(project.cells(locked.id)) == 3  # the other slide got its red cell


def test_voc_import_with_subtypes_and_splits(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    assert detect_format(source) == "voc"
    report = run_job(import_source(project, source))
    assert report.white_cell_types == 1
    cells = project.cells()
    assert sorted(c.kind.value for c in cells) == ["platelet", "red", "white", "white", "white"]
    first = project.slide_by_path(source / "JPEGImages" / "BloodImage_00001.jpg")
    (white,) = [c for c in project.cells(first.id) if c.kind is CellKind.WHITE]
    assert white.label == "lymphocyte" and white.reviewed and (white.box.x0, white.box.y1) == (10, 30)
    # A field listing two types for two boxes is not guessed at.
    second = project.slide_by_path(source / "JPEGImages" / "BloodImage_00002.jpg")
    assert [c.label for c in project.cells(second.id)] == [None, None]
    assert first.attributes["split"] == "train" and second.attributes["split"] == "test"
    assert not project.corrections()  # imported labels are not corrections of a model


def test_voc_split_option_imports_one_split(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    report = run_job(import_source(project, source, split="test"))
    assert report.slides_added == 1


def test_malformed_voc_is_rejected_whole_naming_file_and_line(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    bad = source / "Annotations" / "BloodImage_00002.xml"
    bad.write_text("<annotation>\n<filename>x.jpg</filename>\n<object><name>WBC</name>\n</annotation>")
    with pytest.raises(AnnotationError) as error:
        run_job(import_source(project, source))
    assert "BloodImage_00002.xml:4" in str(error.value)
    assert project.slides() == []  # nothing was imported, not even the good file


def test_voc_missing_element_is_named(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    bad = write_voc(source, "BloodImage_00002", [("WBC", 5, 5, 20, 20)])
    bad.write_text(bad.read_text().replace("<ymax>20</ymax>", ""))
    with pytest.raises(AnnotationError, match=r"BloodImage_00002.xml:<object> #1 <bndbox>: missing <ymax>"):
        run_job(import_source(project, source))


def test_annotation_naming_an_image_outside_the_folder_is_refused(project: ProjectStore, tmp_path: Path) -> None:
    source = make_voc_dataset(tmp_path / "voc")
    write_image(tmp_path / "secret.jpg")
    write_voc(source, "BloodImage_00003", [("WBC", 1, 1, 9, 9)], filename="../../secret.jpg")
    with pytest.raises(AnnotationError, match="outside the imported folder"):
        run_job(import_source(project, source))
    assert project.slides() == []


def write_yolo_dataset(root: Path,
                       label_lines: str = "0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.1 0.1\n2 0.9 0.9 0.05 0.05\n") -> Path:
    write_image(root / "images" / "train" / "a.jpg", 80, 40)
    write_image(root / "images" / "test" / "b.jpg", 80, 40, seed=2)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(label_lines)
    (root / "data.yaml").write_text("train: ./images/train/\nnc: 3\nnames: ['WBC', 'RBC','Platelets']\n")
    return root


def test_yolo_import_denormalises_boxes(project: ProjectStore, tmp_path: Path) -> None:
    source = write_yolo_dataset(tmp_path / "yolo")
    assert detect_format(source) == "yolo"
    report = run_job(import_source(project, source))
    assert report.slides_added == 2 and report.cells_added == 3
    white = [c for c in project.cells() if c.kind is CellKind.WHITE][0]
    assert white.box.as_tuple() == pytest.approx((30.0, 10.0, 50.0, 30.0))
    assert {s.attributes["split"] for s in project.slides()} == {"train", "test"}


def test_yolo_names_as_a_block_mapping(tmp_path: Path, project: ProjectStore) -> None:
    source = write_yolo_dataset(tmp_path / "yolo")
    (source / "data.yaml").write_text("names:\n  0: WBC\n  1: RBC\n  2: Platelets\nnc: 3\n")
    report = run_job(import_source(project, source))
    assert report.cells_added == 3


@pytest.mark.parametrize(
    "lines, message",
    [
        ("0 0.5 0.5 0.2\n", "line 1: expected 'class cx cy w h'"),
        ("0 0.5 0.5 0.2 0.2\n0 0.5 x 0.2 0.2\n", "line 2: expected numbers"),
        ("7 0.5 0.5 0.2 0.2\n", "line 1: class 7 is not one of the 3 named"),
    ],
)
def test_malformed_yolo_is_rejected_naming_file_and_line(
    project: ProjectStore, tmp_path: Path, lines: str, message: str
) -> None:
    source = write_yolo_dataset(tmp_path / "yolo", lines)
    with pytest.raises(AnnotationError, match=f"a.txt:{message}"):
        run_job(import_source(project, source))
    assert project.slides() == []


def test_import_can_be_cancelled_before_it_writes(project: ProjectStore, tmp_path: Path) -> None:
    source = tmp_path / "slides"
    for index in range(20):
        write_image(source / f"{index}.png", seed=index)
    token = CancelToken()
    job = import_source(project, source, cancel=token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        run_job(job)
    assert project.slides() == []


@pytest.mark.parametrize("mode", ["L", "I;16", "RGBA", "P", "CMYK"])
def test_every_image_mode_is_probed(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"img.{'tif' if mode in ('I;16', 'CMYK') else 'png'}"
    Image.new(mode, (30, 20)).save(path)
    info = probe_image(path)
    assert (info.width, info.height) == (30, 20)


def test_exif_rotated_jpeg_reports_its_upright_size(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    image = Image.new("RGB", (60, 20), (200, 100, 100))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(path, exif=exif)
    info = probe_image(path)
    assert (info.width, info.height) == (20, 60)


def test_images_over_pillows_guard_are_read_with_opencv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.imaging import load_rgb

    path = write_image(tmp_path / "scan.png", 120, 90)
    # Shrink Pillow's guard so a small file stands in for a 400-megapixel scan.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    info = probe_image(path)
    assert (info.width, info.height) == (120, 90)
    pixels = load_rgb(path)
    assert pixels.shape == (90, 120, 3) and pixels.dtype.name == "uint8"
    assert Image.MAX_IMAGE_PIXELS == 1000  # the guard itself was never raised


def test_an_image_too_large_for_any_decoder_is_refused_without_decoding(tmp_path: Path) -> None:
    import struct
    import zlib

    from core.imaging import ImageReadError, load_rgb

    path = write_image(tmp_path / "small.png", 10, 10)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", 50_000, 50_000)  # the header now claims 2.5 gigapixels
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bytes(data))
    for read in (probe_image, load_rgb):
        with pytest.raises(ImageReadError, match="too many to open"):
            read(bomb)
