"""The cell locator's rules on generated images, with a proposer that
returns chosen boxes, and the bundled detector on images with no cell."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.importing import import_source
from core.jobs import run_job
from core.locating import (
    FRAMED,
    MAX_OFFSET,
    PLASMA_TRIM,
    CellLocator,
    LocateCounts,
    LocatedCell,
    Placement,
    Proposals,
    choose_cell,
    classifier_box,
    classifier_view,
    kind_of_label,
    load_locator,
    padded_for_tight_look,
    read_and_locate,
    trimmed_to_stain,
)
from core.schema import Box, CellKind
from core.store import ProjectStore
from core.training.samples import from_class_folders

WHITE, RED, PLATELET = CellKind.WHITE.value, CellKind.RED.value, CellKind.PLATELET.value


def proposals(*boxes: tuple[float, float, float, float, float, str]) -> Proposals:
    """(x0, y0, x1, y1, score, kind) rows as the proposer returns them."""
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, "<U8")
    return (
        np.array([b[:4] for b in boxes], np.float32),
        np.array([b[4] for b in boxes], np.float32),
        np.array([b[5] for b in boxes]),
    )


class ScriptedProposer:
    """Answers each look with the next scripted proposals, and records the
    sizes of the images it was shown."""

    def __init__(self, *answers: list[Proposals]) -> None:
        self.answers = list(answers)
        self.seen: list[list[tuple[int, int]]] = []

    def propose(self, images: Sequence[np.ndarray]) -> list[Proposals]:
        self.seen.append([image.shape[:2] for image in images])
        return self.answers.pop(0)


def test_the_white_cell_nearest_the_centre_is_chosen() -> None:
    found = proposals(
        (10, 10, 60, 60, 0.9, WHITE),  # a white cell in the corner
        (80, 85, 120, 125, 0.8, WHITE),  # the centred one
        (90, 90, 110, 110, 0.95, RED),  # a red cell on the centre
    )
    cell = choose_cell(found, 200, 200, CellKind.WHITE)
    assert cell is not None and cell.placement is Placement.LOCATED
    assert cell.box == Box(80, 85, 120, 125)


def test_the_kind_the_class_says_is_taken() -> None:
    found = proposals((70, 70, 130, 130, 0.9, WHITE), (95, 95, 108, 108, 0.6, PLATELET))
    assert choose_cell(found, 200, 200, CellKind.PLATELET).box == Box(95, 95, 108, 108)
    assert choose_cell(found, 200, 200, CellKind.WHITE).box == Box(70, 70, 130, 130)


def test_with_no_class_a_white_cell_or_a_platelet_is_taken_but_never_a_red_cell() -> None:
    assert choose_cell(proposals((95, 95, 108, 108, 0.6, PLATELET)), 200, 200, None).box == Box(95, 95, 108, 108)
    assert choose_cell(proposals((80, 80, 120, 120, 0.99, RED)), 200, 200, None) is None


def test_a_box_far_from_the_centre_is_not_the_cell() -> None:
    reach = MAX_OFFSET * 200
    far = proposals((100 + reach + 1 - 20, 80, 100 + reach + 1 + 20, 120, 0.9, WHITE))
    assert choose_cell(far, 200, 200, CellKind.WHITE) is None


def test_a_faint_blob_on_the_centre_loses_to_a_confident_cell_beside_it() -> None:
    found = proposals((95, 95, 105, 105, 0.12, WHITE), (84, 84, 124, 124, 0.9, WHITE))
    assert choose_cell(found, 200, 200, CellKind.WHITE).box == Box(84, 84, 124, 124)


def test_a_giant_platelet_read_as_a_white_cell_is_a_platelet_images_cell() -> None:
    found = proposals(
        (70, 72, 130, 128, 0.75, WHITE),  # the giant platelet on the centre
        (120, 60, 140, 80, 0.7, PLATELET),  # a small platelet beside it
    )
    assert choose_cell(found, 200, 200, CellKind.PLATELET).box == Box(70, 72, 130, 128)


def test_a_box_around_two_touching_cells_is_not_a_cell() -> None:
    found = proposals(
        (60, 40, 140, 165, 0.5, WHITE),  # the union, centred
        (60, 40, 140, 100, 0.9, WHITE),  # the upper cell
        (62, 102, 138, 165, 0.85, WHITE),  # the lower cell
    )
    assert choose_cell(found, 200, 200, CellKind.WHITE).box == Box(60, 40, 140, 100)
    # One cell inside a weaker box is not a pair: the box stays a candidate.
    one = proposals((70, 70, 130, 130, 0.6, WHITE), (110, 110, 128, 128, 0.9, WHITE), (0, 0, 20, 20, 0.9, RED))
    assert choose_cell(one, 200, 200, CellKind.WHITE).box == Box(70, 70, 130, 130)


def test_a_part_of_a_sure_larger_cell_nearer_the_centre_gives_way_to_that_cell() -> None:
    # A crop cut off-centre: the cell reaches the corner, a platelet on it
    # (or a lobe) lies nearest the image's centre.
    cell = (10, 10, 120, 120, 0.9, WHITE)
    found = proposals(cell, (95, 95, 115, 115, 0.7, PLATELET))
    assert choose_cell(found, 200, 200, None).box == Box(10, 10, 120, 120)
    found = proposals(cell, (95, 95, 115, 115, 0.5, WHITE))
    assert choose_cell(found, 200, 200, CellKind.WHITE).box == Box(10, 10, 120, 120)
    # Inside a doubtful box (a platelet clump read as a white cell) it stays
    # the image's cell, as does one only touching the larger cell.
    clump = proposals((10, 10, 120, 120, 0.3, WHITE), (95, 95, 115, 115, 0.2, PLATELET))
    assert choose_cell(clump, 200, 200, None).box == Box(95, 95, 115, 115)
    beside = proposals(cell, (110, 95, 130, 115, 0.7, PLATELET))
    assert choose_cell(beside, 200, 200, None).box == Box(110, 95, 130, 115)


def test_a_cell_cut_off_centre_is_found_before_the_whole_image_stands_in() -> None:
    image = np.full((200, 200, 3), 220, np.uint8)
    first = proposals((130, 140, 195, 198, 0.9, WHITE), (5, 5, 40, 40, 0.3, WHITE), (80, 80, 120, 120, 0.9, RED))
    proposer = ScriptedProposer([first], [proposals()])
    [cell] = CellLocator(proposer).locate([image], [CellKind.WHITE])
    assert cell.placement is Placement.LOCATED and cell.box == Box(130, 140, 195, 198)
    # A doubtful box elsewhere is no cell: the whole image stands in.
    proposer = ScriptedProposer([proposals((5, 5, 40, 40, 0.3, WHITE))], [proposals()])
    assert CellLocator(proposer).locate([image], [CellKind.WHITE])[0].placement is Placement.WHOLE


def test_a_cell_filling_the_image_keeps_the_whole_image_box() -> None:
    cell = choose_cell(proposals((3, 2, 117, 118, 0.9, WHITE)), 120, 120, CellKind.WHITE)
    assert cell is not None and cell.placement is Placement.TIGHT
    assert cell.box == Box(0, 0, 120, 120)


def test_boxes_are_clipped_to_the_image() -> None:
    cell = choose_cell(proposals((-10, 30, 70, 80, 0.9, WHITE)), 100, 100, CellKind.WHITE)
    assert cell is not None and cell.box == Box(0, 30, 70, 80)


def test_a_tight_crop_the_first_look_misses_is_recognised_in_the_framed_look() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    framed_width = 100 + 2 * round(0.3 * 100)
    # In the framed image the cell sits where the original image does.
    proposer = ScriptedProposer([proposals()], [proposals((30, 30, 130, 130, 0.8, WHITE))])
    [cell] = CellLocator(proposer).locate([image])
    assert proposer.seen == [[(100, 100)], [(framed_width, framed_width)]]
    assert cell.placement is Placement.TIGHT and cell.box == Box(0, 0, 100, 100)


def test_a_doubtful_part_of_a_cell_filling_the_image_gives_way_to_the_tight_crop() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    lobe = proposals((40, 35, 70, 65, 0.3, WHITE))
    whole_cell = proposals((31, 32, 128, 129, 0.8, WHITE))  # in the framed image
    [cell] = CellLocator(ScriptedProposer([lobe], [whole_cell])).locate([image])
    assert cell.placement is Placement.TIGHT and cell.box == Box(0, 0, 100, 100)
    # The framed look finding no cell filling the image keeps the first box.
    [cell] = CellLocator(ScriptedProposer([lobe], [proposals()])).locate([image])
    assert cell.placement is Placement.LOCATED and cell.box == Box(40, 35, 70, 65)
    # A confident first box needs no second look.
    proposer = ScriptedProposer([proposals((40, 35, 70, 65, 0.9, WHITE))])
    [cell] = CellLocator(proposer).locate([image])
    assert len(proposer.seen) == 1 and cell.box == Box(40, 35, 70, 65)


PLASMA = (232, 226, 214)


def _platelet_image() -> np.ndarray:
    """Plasma with a purple platelet spanning 88-112 on both axes."""
    image = np.full((200, 200, 3), PLASMA, np.uint8)
    cv2.circle(image, (100, 100), 12, (150, 90, 170), -1)
    return image


def test_a_platelets_box_is_trimmed_of_the_plasma_at_its_edges() -> None:
    loose = proposals((84, 84, 116, 117, 0.9, PLATELET))  # 3-4 px of plasma on each side
    for kind in (CellKind.PLATELET, None):
        [cell] = CellLocator(ScriptedProposer([loose])).locate([_platelet_image()], [kind])
        assert cell.placement is Placement.LOCATED and cell.box == Box(88, 88, 113, 113)
    # A white cell's box is left as found: its pale cytoplasm is not plasma.
    white = proposals((84, 84, 116, 117, 0.9, WHITE))
    [cell] = CellLocator(ScriptedProposer([white])).locate([_platelet_image()], [CellKind.WHITE])
    assert cell.box == Box(84, 84, 116, 117)


def test_a_platelet_box_is_trimmed_by_at_most_a_share_of_its_side_and_never_to_nothing() -> None:
    image = _platelet_image()
    far = Box(40, 88, 113, 113)  # 48 px of plasma to the left
    assert trimmed_to_stain(image, far).x0 == 40 + int(PLASMA_TRIM * 73)
    only_plasma = Box(10, 10, 40, 40)
    assert trimmed_to_stain(image, only_plasma) == only_plasma


def test_nothing_found_falls_back_to_the_whole_image_and_is_counted() -> None:
    images = [np.full((50, 60, 3), 230, np.uint8), np.zeros((1, 1, 3), np.uint8), np.zeros((40, 40), np.uint8)]
    proposer = ScriptedProposer([proposals()], [proposals()])
    cells = CellLocator(proposer).locate(images)
    # The 1x1 and the grey image are never shown to the detector.
    assert proposer.seen[0] == [(50, 60)]
    assert [cell.placement for cell in cells] == [Placement.WHOLE] * 3
    assert cells[0].box == Box(0, 0, 60, 50) and cells[1].box == Box(0, 0, 1, 1)
    counts = LocateCounts()
    for cell in cells:
        counts.add(cell)
    assert counts.as_dict() == {"located": 0, "tight": 0, "whole_image_fallbacks": 3}
    assert "no cell found in 3" in counts.describe()


def test_the_framed_look_is_padded_with_the_plasma_colour() -> None:
    image = np.full((40, 40, 3), (230, 200, 210), np.uint8)
    cv2.circle(image, (20, 20), 15, (120, 60, 160), -1)
    framed, left, top = padded_for_tight_look(image)
    assert (left, top) == (12, 12)
    assert tuple(framed[0, 0]) == (230, 200, 210)
    assert np.array_equal(framed[top : top + 40, left : left + 40], image)


def test_the_classifier_is_shown_the_crop_of_a_small_cell_and_the_image_of_a_large_one() -> None:
    image = np.arange(200 * 200 * 3, dtype=np.uint32).reshape(200, 200, 3).astype(np.uint8)
    small = LocatedCell(Box(80, 80, 120, 120), Placement.LOCATED, 0.9)
    assert classifier_view(image, small, 0.15).shape == (52, 52, 3)
    large_side = FRAMED * 200 + 2
    large = LocatedCell(Box(10, 10, 10 + large_side, 10 + large_side), Placement.LOCATED, 0.9)
    assert classifier_box(large, 200, 200) is None
    assert classifier_view(image, large, 0.15) is image
    assert classifier_view(image, LocatedCell(Box(0, 0, 200, 200), Placement.WHOLE), 0.15) is image


def test_a_class_names_the_kind_to_look_for() -> None:
    assert kind_of_label("platelet") is CellKind.PLATELET
    assert kind_of_label("erythroblast") is CellKind.WHITE
    assert kind_of_label("neutrophil") is CellKind.WHITE
    assert kind_of_label("no_such_class") is None and kind_of_label(None) is None


def _write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


class CentreProposer:
    """A cell of side 40 (white unless told) at the centre of every image."""

    def __init__(self, kind: str = WHITE) -> None:
        self.calls = 0
        self.kind = kind

    def propose(self, images: Sequence[np.ndarray]) -> list[Proposals]:
        self.calls += 1
        return [
            proposals(
                (im.shape[1] / 2 - 20, im.shape[0] / 2 - 20, im.shape[1] / 2 + 20, im.shape[0] / 2 + 20, 0.9, self.kind)
            )
            for im in images
        ]


def test_read_and_locate_keeps_order_and_names_unreadable_files(tmp_path: Path) -> None:
    good = _write(tmp_path / "a.png", np.full((120, 120, 3), 200, np.uint8))
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    other = _write(tmp_path / "c.png", np.full((100, 140, 3), 200, np.uint8))
    read = list(read_and_locate([good, bad, other], CellLocator(CentreProposer()), chunk=2))
    assert [r.path for r in read] == [good, bad, other]
    assert read[1].cell is None and read[1].error
    assert read[0].cell.box == Box(40, 40, 80, 80) and read[2].cell.box == Box(50, 30, 90, 70)
    unlocated = list(read_and_locate([good], None))
    assert unlocated[0].cell.placement is Placement.GIVEN and unlocated[0].cell.box == Box(0, 0, 120, 120)


def test_class_folder_samples_take_the_located_box(tmp_path: Path) -> None:
    _write(tmp_path / "tree" / "neutrophil" / "n1.png", np.full((160, 160, 3), 200, np.uint8))
    _write(tmp_path / "tree" / "platelet" / "p1.png", np.full((160, 160, 3), 200, np.uint8))
    counts = LocateCounts()
    locator = CellLocator(CentreProposer(PLATELET))
    samples = from_class_folders(tmp_path / "tree", ["neutrophil", "platelet"], locator=locator, counts=counts)
    assert {s.label: s.box for s in samples} == {"neutrophil": None, "platelet": Box(60, 60, 100, 100)}
    # The neutrophil folder asks for a white cell; the proposer offers only a platelet.
    assert counts.located == 1 and counts.whole == 1


def test_a_crops_import_stores_the_found_box_and_counts(tmp_path: Path) -> None:
    for index in range(3):
        _write(tmp_path / "crops" / "lymphocyte" / f"l{index}.png", np.full((150, 150, 3), 210, np.uint8))
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        report = run_job(import_source(store, tmp_path / "crops", "crops", locator=CellLocator(CentreProposer())))
        assert report.cells_found is not None and report.cells_found.located == 3
        assert {cell.box for cell in store.cells()} == {Box(55, 55, 95, 95)}
        assert report.as_dict()["cells_found"] == {"located": 3, "tight": 0, "whole_image_fallbacks": 0}


def test_a_crops_import_with_a_known_margin_or_locate_off_looks_for_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "crops" / "lymphocyte" / "l.png", np.full((130, 130, 3), 210, np.uint8))
    proposer = CentreProposer()
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        report = run_job(import_source(store, tmp_path / "crops", "crops", crop_margin=0.15,
                                       locator=CellLocator(proposer)))
        assert report.cells_found is None and proposer.calls == 0
        assert [cell.box for cell in store.cells()] == [Box(15, 15, 115, 115)]
    with ProjectStore.create(tmp_path / "q.hemalabel") as store:
        run_job(import_source(store, tmp_path / "crops", "crops", locate="off", locator=CellLocator(proposer)))
        assert proposer.calls == 0 and [cell.box for cell in store.cells()] == [Box(0, 0, 130, 130)]


@pytest.mark.parametrize(
    "image",
    [
        np.full((363, 360, 3), 235, np.uint8),  # blank
        np.zeros((1, 1, 3), np.uint8),
        np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8),  # noise
        np.full((3000, 2400, 3), 128, np.uint8),  # large and uniform
    ],
    ids=["blank", "1x1", "noise", "large"],
)
def test_the_bundled_detector_finds_no_cell_where_there_is_none(image: np.ndarray) -> None:
    [cell] = _bundled_locator().locate([image])
    # Framed in plasma, a square of noise can pass for a cell filling its
    # image: either way the whole image is the box, never a part of it.
    assert cell.placement in ((Placement.WHOLE, Placement.TIGHT) if image.std() > 50 else (Placement.WHOLE,))
    assert cell.box == Box(0, 0, image.shape[1], image.shape[0])


_LOCATOR: list[CellLocator] = []


def _bundled_locator() -> CellLocator:
    if not _LOCATOR:
        _LOCATOR.append(load_locator())
    return _LOCATOR[0]
