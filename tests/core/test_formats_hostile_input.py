"""Hostile input never crashes or escapes (issue 29): whatever an annotation
holds (another encoding, a NUL, nan, 1e308, JSON nested a million deep), every
reader gives a plan or one AnnotationError naming the file and line, never a
traceback from deeper down; and a CSV in the Windows code page is read, not
passed over as a folder of bare images."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.formats import bccd_subtypes, yolo
from core.formats.common import AnnotationError
from core.importing import ImportSourceError, detect_format, read_source
from core.taxonomy import default_taxonomy

TAXONOMY = default_taxonomy()


def write_image(path: Path, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 90, np.uint8))
    return path


# --------------------------------------------------------------------------- small valid datasets

def make_voc(root: Path) -> Path:
    write_image(root / "JPEGImages" / "a.png")
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(
        "<annotation><folder>JPEGImages</folder><filename>a.png</filename>"
        "<size><width>64</width><height>48</height><depth>3</depth></size>"
        "<object><name>WBC</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>"
        "<object><name>RBC</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
        "</annotation>\n"
    )
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("a\n")
    (root / bccd_subtypes.FILE_NAME).write_text(",Image,Category\n0,1,NEUTROPHIL\n")
    return root


def make_yolo(root: Path) -> Path:
    write_image(root / "images" / "train" / "a.png")
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n1 0.25 0.25 0.1 0.1\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/train\nnc: 2\nnames: ['WBC', 'RBC']\n")
    return root


def make_coco(root: Path) -> Path:
    write_image(root / "images" / "a.png")
    document = {
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10]}],
        "categories": [{"id": 1, "name": "WBC"}],
    }
    (root / "annotations.json").write_text(json.dumps(document, indent=1))
    return root


def make_csv(root: Path) -> Path:
    write_image(root / "a.png")
    (root / "cells.csv").write_text(
        "image,x0,y0,x1,y1,kind,class,probability,reviewed\n"
        "a.png,1,2,30,40,white,neutrophil,0.9,true\n"
        "a.png,3,4,9,9,red,,,false\n"
    )
    return root


DATASETS = {"voc": (make_voc, "Annotations/a.xml"), "yolo": (make_yolo, "labels/train/a.txt"),
            "coco": (make_coco, "annotations.json"), "csv": (make_csv, "cells.csv")}
# The other text files each reader reads, mutated as well.
EXTRA_FILES = {"voc": ["ImageSets/Main/train.txt", bccd_subtypes.FILE_NAME], "yolo": ["data.yaml"]}


def read(root: Path, fmt: str):
    """What an import does before touching a project: find the format, read the source."""
    plan = read_source(root, fmt, TAXONOMY)
    detected = detect_format(root)
    read_source(root, detected, TAXONOMY)
    return plan


# --------------------------------------------------------------------------- fuzz: every reader

HOSTILE = [
    b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e308", b"-1e308", b"1e999", b"9" * 5000, b"\x00",
    b"\xff\xfe", b"\xe9", b"\x81", b"\xc3", b"[" * 3000, b"{", b"\"", b";", b",", b"\t", b"\n", b"\r",
    b"../x.png", b"/etc/passwd", b"\\ud800", b"\"\\u0000\"", b"-1", b"0", b"", b"1e400", b"0x10", b"1_0",
    b"{0: 'a', 'b': 'c'}", b"{[1]: 2}", "Pérez_01.jpg".encode("cp1252"), b"\xef\xbb\xbf",
    b"a\x00.png", b"a\\u0000.png", b"\\ud800.png", b"1" + b"0" * 400, b"1" + b"0" * 30,
]
# What stands in for a number or a file name.
IN_PLACE = [
    b"nan", b"inf", b"-inf", b"1e308", b"1e999", b"9" * 5000, b"1" + b"0" * 400, b"1" + b"0" * 30, b"-1",
    b"a\x00.png", b"a\\u0000.png", b"\\ud800.png", "Pérez_01.jpg".encode("cp1252"), b"../x.png", b"",
]
# What a mutation may put a hostile value in place of: a number, or a file name.
TOKEN = re.compile(rb"-?\d+(?:\.\d+)?|[\w.]+\.png")

mutation = st.one_of(
    # overwrite a span with one of the values hostile files hold
    st.tuples(st.just("replace"), st.integers(0, 10_000), st.integers(0, 8), st.sampled_from(HOSTILE)),
    # or with arbitrary bytes
    st.tuples(st.just("replace"), st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=8)),
    # or put one in place of a number or file name, where readers trust it most
    st.tuples(st.just("token"), st.integers(0, 10_000), st.just(0), st.sampled_from(IN_PLACE)),
    st.tuples(st.just("token"), st.integers(0, 10_000), st.just(0), st.sampled_from(IN_PLACE)),
    # or cut the file short
    st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0), st.just(b"")),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    for action, position, length, value in mutations:
        if action == "token":
            tokens = list(TOKEN.finditer(data))
            if tokens:
                token = tokens[position % len(tokens)]
                data = data[: token.start()] + value + data[token.end():]
            continue
        position = position % (len(data) + 1)
        data = data[:position] if action == "truncate" else data[:position] + value + data[position + length:]
    return data


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("templates")
    return {fmt: make(base / fmt) for fmt, (make, _) in DATASETS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(DATASETS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_every_reader_gives_a_plan_or_an_annotation_error(templates: dict[str, Path], fmt: str, data) -> None:
    files = [DATASETS[fmt][1], *EXTRA_FILES.get(fmt, [])]
    target = data.draw(st.sampled_from(files), label="file")
    mutations = data.draw(st.lists(mutation, min_size=1, max_size=4), label="mutations")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / fmt
        shutil.copytree(templates[fmt], root)
        path = root / target
        path.write_bytes(mutate(path.read_bytes(), mutations))
        try:
            read(root, fmt)
        except (AnnotationError, ImportSourceError) as error:
            assert str(error).strip()


# --------------------------------------------------------------------------- each root cause

def refused(root: Path, fmt: str, *expected: str) -> str:
    with pytest.raises(AnnotationError) as caught:
        read_source(root, fmt, TAXONOMY)
    message = str(caught.value)
    for text in expected:
        assert text in message, message
    return message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308"])
def test_voc_non_finite_or_huge_coordinate_names_file_and_object(tmp_path: Path, value: str) -> None:
    root = make_voc(tmp_path / "voc")
    xml = root / "Annotations" / "a.xml"
    xml.write_text(xml.read_text().replace("<xmax>30</xmax>", f"<xmax>{value}</xmax>"))
    refused(root, "voc", "a.xml:<object> #1 <bndbox> <xmax>")


@pytest.mark.parametrize("value", ["inf", "nan", "1e308", "-5"])
def test_voc_bad_image_size_names_file(tmp_path: Path, value: str) -> None:
    root = make_voc(tmp_path / "voc")
    xml = root / "Annotations" / "a.xml"
    xml.write_text(xml.read_text().replace("<width>64</width>", f"<width>{value}</width>"))
    refused(root, "voc", "a.xml:<size>")


def test_voc_image_set_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc")
    (root / "ImageSets" / "Main" / "train.txt").write_bytes(b"a\nP\xe9rez\n")
    refused(root, "voc", "train.txt:line 2", "not UTF-8")


def test_wbc_subtypes_in_windows_code_page_is_read(tmp_path: Path) -> None:
    root = make_voc(tmp_path / "voc")
    (root / bccd_subtypes.FILE_NAME).write_bytes(b",Image,Category\n0,1,NEUTROPHIL\n1,2,caf\xe9\n")
    assert bccd_subtypes.read_subtypes(root / bccd_subtypes.FILE_NAME)["BloodImage_00002"] == ["café"]
    (root / bccd_subtypes.FILE_NAME).write_bytes(b",Image,Category\n0,1,NEUTROPHIL\n1,2,\x81\n")
    refused(root, "voc", "wbc_subtypes.csv:line 3", "not UTF-8")


@pytest.mark.parametrize("line",
                         ["0 nan 0.5 0.2 0.2", "0 0.5 inf 0.2 0.2", "0 0.5 0.5 1e308 0.2", "0 1e999 0.5 0.2 0.2"])
def test_yolo_non_finite_or_huge_value_names_file_and_line(tmp_path: Path, line: str) -> None:
    root = make_yolo(tmp_path / "yolo")
    (root / "labels" / "train" / "a.txt").write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    refused(root, "yolo", "a.txt:line 2")


def test_yolo_files_not_utf8_name_file_and_line(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "yolo")
    (root / "labels" / "train" / "a.txt").write_bytes(b"0 0.5 0.5 0.2 0.2\n\xff\xfe\n")
    refused(root, "yolo", "a.txt:line 2", "not UTF-8")
    root = make_yolo(tmp_path / "yolo2")
    (root / "data.yaml").write_bytes(b"path: .\n# caf\xe9\nnames: ['WBC', 'RBC']\n")
    refused(root, "yolo", "data.yaml:line 2", "not UTF-8")


@pytest.mark.parametrize(
    "names", ["{0: 'WBC', 'b': 'RBC'}", "{0: 'WBC', 1.5: 'RBC'}", "{0: 'WBC', 2: 'RBC'}", "{[1]: 2}"]
)
def test_yolo_names_mapping_of_other_keys_is_refused_clearly(tmp_path: Path, names: str) -> None:
    root = make_yolo(tmp_path / "yolo")
    (root / "data.yaml").write_text(f"path: .\nnames: {names}\n")
    refused(root, "yolo", "data.yaml:line 2")


def test_yolo_names_mapping_in_index_order(tmp_path: Path) -> None:
    root = make_yolo(tmp_path / "yolo")
    (root / "data.yaml").write_text("names: {1: 'RBC', 0: 'WBC'}\n")
    assert yolo.read_class_names(root) == ["WBC", "RBC"]


def test_csv_image_with_nul_names_file_and_line(tmp_path: Path) -> None:
    root = make_csv(tmp_path / "csv")
    (root / "cells.csv").write_text("image,x0,y0,x1,y1,kind\na.png,1,2,3,4,red\na\x00.png,1,2,3,4,red\n")
    refused(root, "csv", "cells.csv:line 3", "NUL")


@pytest.mark.parametrize("value", ["nan", "inf", "1e308"])
def test_csv_non_finite_or_huge_coordinate_names_file_and_line(tmp_path: Path, value: str) -> None:
    root = make_csv(tmp_path / "csv")
    (root / "cells.csv").write_text(f"image,x0,y0,x1,y1,kind\na.png,1,2,3,4,red\na.png,1,2,{value},4,red\n")
    refused(root, "csv", "cells.csv:line 3", "bad box")


@pytest.mark.parametrize(
    "file_name", ["a\u0000.png", "\ud800.png"], ids=["nul", "lone-surrogate"]
)
def test_coco_file_name_that_no_file_system_takes_is_refused(tmp_path: Path, file_name: str) -> None:
    root = make_coco(tmp_path / "coco")
    document = json.loads((root / "annotations.json").read_text())
    document["images"][0]["file_name"] = file_name
    (root / "annotations.json").write_text(json.dumps(document))
    refused(root, "coco", "annotations.json:images[0] file_name")


def test_coco_nested_too_deep_is_malformed(tmp_path: Path) -> None:
    root = make_coco(tmp_path / "coco")
    (root / "annotations.json").write_text('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(root, "coco", "annotations.json", "nested too deeply")


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["annotations"][0].update(bbox=[10**400, 2, 10, 10]),
        lambda d: d["annotations"][0].update(bbox=[1, 2, 1e308, 10]),
        lambda d: d["images"][0].update(width=10**400),
        lambda d: d["images"][0].update(height=10**30),
    ],
    ids=["giant-int-bbox", "huge-float-bbox", "giant-width", "huge-height"],
)
def test_coco_giant_numbers_name_file_and_entry(tmp_path: Path, change) -> None:
    root = make_coco(tmp_path / "coco")
    document = json.loads((root / "annotations.json").read_text())
    change(document)
    (root / "annotations.json").write_text(json.dumps(document))
    refused(root, "coco", "annotations.json:")


def test_coco_integer_of_thousands_of_digits_is_malformed(tmp_path: Path) -> None:
    root = make_coco(tmp_path / "coco")
    text = (root / "annotations.json").read_text().replace('"width": 64', '"width": ' + "9" * 5000)
    (root / "annotations.json").write_text(text)
    refused(root, "coco", "annotations.json", "malformed JSON")


def test_semicolon_csv_in_windows_code_page_is_imported_not_a_folder(tmp_path: Path) -> None:
    root = tmp_path / "excel"
    write_image(root / "Pérez_01.jpg")
    text = "image;x0;y0;x1;y1;kind;class\nPérez_01.jpg;1,5;2;30;40;white;neutrophil\n"
    (root / "cells.csv").write_bytes(text.encode("cp1252"))
    assert detect_format(root) == "csv"
    plan = read_source(root, "csv", TAXONOMY)
    [image] = plan.images
    assert image.path.name == "Pérez_01.jpg"
    assert [(box.box.x0, box.label) for box in image.boxes] == [(1.5, "neutrophil")]


def test_csv_whose_header_cannot_be_read_is_named_not_passed_over(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    write_image(root / "a.png")
    (root / "cells.csv").write_bytes(b"image;x0;y0;x1;y1;kind\x81\n")
    with pytest.raises(AnnotationError, match=r"cells\.csv:line 1: not UTF-8"):
        detect_format(root)


def test_csv_in_utf16_as_excel_saves_unicode_text_is_read(tmp_path: Path) -> None:
    root = tmp_path / "utf16"
    write_image(root / "a.png")
    (root / "cells.csv").write_bytes("image\tx0\ty0\tx1\ty1\tkind\na.png\t1\t2\t3\t4\tred\n".encode("utf-16"))
    assert detect_format(root) == "csv"
    assert len(read_source(root, "csv", TAXONOMY).images[0].boxes) == 1
