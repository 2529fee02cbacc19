"""The detector's instant path (issue 30 item 5): boxes the technician
deleted or re-kinded on reviewed fields change the same proposals on the
fields nobody reviewed, at the next detection; on generated fields with a
fake detector that calls every blue-grey red cell a white cell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.detection.proposal_learning as proposal_learning
from core.detection.proposal_learning import (
    MIN_EXAMPLES,
    SLIDE_KEY,
    learn_proposals,
    proposal_features,
    taught_sentence,
)
from core.inference import Detection, detect_slides
from core.jobs import run_job
from core.schema import Box, CellKind, SlideStatus
from core.store import ProjectStore
from tests.core.test_familiarity import PURPLE, RED_CENTRES, WHITE_CENTRE, box_around, stained

BLUE_GREY = (140, 150, 175)
RED_RADIUS, WHITE_RADIUS = 16, 22
FIELDS = 8


class RedAsWhiteDetector:
    """Proposes every red cell of a generated field as a white cell, and
    the white cell as one, at scores that overlap."""

    def __init__(self, version: str = "det-fooled-1") -> None:
        self.version = version
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        rng = np.random.default_rng(self.calls)
        found = [Detection(box_around(c, RED_RADIUS), CellKind.WHITE, float(rng.uniform(0.5, 0.9)))
                 for c in RED_CENTRES]
        return found + [Detection(box_around(WHITE_CENTRE, WHITE_RADIUS), CellKind.WHITE, 0.7)]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "lab.hemalabel")
    rng = np.random.default_rng(0)
    for i in range(FIELDS):
        Image.fromarray(stained(BLUE_GREY, PURPLE, rng)).save(tmp_path / f"field{i}.png")
        store.add_slide(tmp_path / f"field{i}.png", 200, 230)
    yield store
    store.close()


def is_white_cell(box: Box) -> bool:
    return box.iou(box_around(WHITE_CENTRE, WHITE_RADIUS)) > 0.5


def review(store: ProjectStore, slide_id: int, rekind: bool = False) -> None:
    """The technician on one field: the red cells called white deleted (or
    made red), the white cell left standing."""
    wrong = [cell.id for cell in store.cells(slide_id) if not is_white_cell(cell.box)]
    if rekind:
        store.set_kind(wrong, CellKind.RED)
    else:
        store.remove_cells(wrong)


def whites(store: ProjectStore, slide_id: int) -> int:
    return sum(1 for cell in store.cells(slide_id) if cell.kind is CellKind.WHITE)


def test_deleted_white_boxes_on_three_fields_drop_on_the_others_and_the_white_cell_stays(
    project: ProjectStore,
) -> None:
    detector = RedAsWhiteDetector()
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, detector, slides))
    assert whites(project, slides[-1]) == len(RED_CENTRES) + 1
    for slide_id in slides[:MIN_EXAMPLES]:
        review(project, slide_id)
    run_job(detect_slides(project, detector, slides))
    for slide_id in slides[MIN_EXAMPLES:]:
        cells = project.cells(slide_id)
        assert [is_white_cell(cell.box) for cell in cells] == [True]  # the white cell alone
        taught = project.slide(slide_id).attributes[SLIDE_KEY]
        assert taught == {"removed": len(RED_CENTRES), "rekinded": 0,
                          "examples": MIN_EXAMPLES * (len(RED_CENTRES) + 1)}
    for slide_id in slides[:MIN_EXAMPLES]:  # the teaching itself is left as the technician made it
        assert whites(project, slide_id) == 1 and SLIDE_KEY not in project.slide(slide_id).attributes


def test_fewer_than_the_minimum_of_kept_boxes_teach_nothing(project: ProjectStore) -> None:
    """Two reviewed fields hold 22 deleted white boxes but only 2 kept:
    too few to tell what a kept white cell looks like."""
    detector = RedAsWhiteDetector()
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, detector, slides))
    for slide_id in slides[: MIN_EXAMPLES - 1]:
        review(project, slide_id)
    assert learn_proposals(project, detector.version) is None
    run_job(detect_slides(project, detector, slides))
    assert whites(project, slides[-1]) == len(RED_CENTRES) + 1
    assert SLIDE_KEY not in project.slide(slides[-1]).attributes


def test_re_kinded_boxes_re_kind_the_others_and_an_undo_takes_the_lesson_back(project: ProjectStore) -> None:
    detector = RedAsWhiteDetector()
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, detector, slides))
    for slide_id in slides[:MIN_EXAMPLES]:
        review(project, slide_id, rekind=True)
    run_job(detect_slides(project, detector, slides))
    last = project.cells(slides[-1])
    assert sorted(cell.kind.value for cell in last) == ["red"] * len(RED_CENTRES) + ["white"]
    # A re-kinded cell is not proposed again as the white cell it was.
    assert sorted(cell.kind.value for cell in project.cells(slides[0])) == ["red"] * len(RED_CENTRES) + ["white"]
    assert project.slide(slides[-1]).attributes[SLIDE_KEY]["rekinded"] == len(RED_CENTRES)
    while project.undo_description() != "Set kind":
        project.undo()  # the detection run
    project.undo()  # the third field's re-kinding: two fields' teaching is too little
    assert learn_proposals(project, detector.version) is None
    run_job(detect_slides(project, detector, slides))
    assert whites(project, slides[-1]) == len(RED_CENTRES) + 1
    assert project.slide(slides[-1]).attributes[SLIDE_KEY] is None  # the earlier run's count is gone


def test_another_detectors_proposals_are_not_judged_by_this_lesson(project: ProjectStore) -> None:
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, RedAsWhiteDetector(), slides))
    for slide_id in slides[:MIN_EXAMPLES]:
        review(project, slide_id)
    assert learn_proposals(project, "det-fooled-1") is not None
    assert learn_proposals(project, "det-other-2") is None


def test_a_project_never_corrected_reads_no_image_to_learn(project: ProjectStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection's speed is untouched until a box is deleted or re-kinded."""
    def refuse(*_args: object) -> None:
        raise AssertionError("an image was read to learn from")

    monkeypatch.setattr(proposal_learning, "load_slide_rgb", refuse)
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, RedAsWhiteDetector(), slides))
    project.set_slide_status(slides[0], SlideStatus.SIGNED_OFF)  # reviewed, nothing changed
    assert learn_proposals(project, "det-fooled-1") is None


def test_features_read_a_boxes_colour_size_and_score() -> None:
    field = stained(BLUE_GREY, PURPLE, np.random.default_rng(2))
    found = [Detection(box_around(c, RED_RADIUS), CellKind.RED, 0.6) for c in RED_CENTRES]
    found.append(Detection(box_around(WHITE_CENTRE, WHITE_RADIUS), CellKind.WHITE, 0.9))
    features = proposal_features(field, found)
    red, white = features[0], features[-1]
    assert red[7] == pytest.approx(1.0) and white[7] == pytest.approx(WHITE_RADIUS / RED_RADIUS)
    assert white[8] == 0.9 and white[0] < red[0] < 0  # the nucleus darker than a red cell, both than the glass
    assert proposal_features(field, []).shape == (0, len(proposal_learning.FEATURES))


def test_the_sentence_says_what_changed() -> None:
    assert taught_sentence(22, 0, 2, 36) == ("Taught by 36 reviewed proposals of this project: 22 proposals "
                                             "removed on 2 slides")
    assert taught_sentence(1, 3, 1, 9).endswith("1 proposal removed and 3 proposals re-kinded on 1 slide")


def test_cli_detect_says_what_the_corrections_changed(project: ProjectStore, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import core.detection.detector
    from app.cli.main import main

    detector = RedAsWhiteDetector()
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, detector, slides))
    for slide_id in slides[:MIN_EXAMPLES]:
        review(project, slide_id)
    path = project.path
    project.close()
    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: detector)
    assert main(["detect", "--project", str(path)]) == 0
    removed = (FIELDS - MIN_EXAMPLES) * len(RED_CENTRES)
    assert (f"Taught by {MIN_EXAMPLES * (len(RED_CENTRES) + 1)} reviewed proposals of this project: {removed} "
            f"proposals removed on {FIELDS - MIN_EXAMPLES} slides") in capsys.readouterr().out
    assert main(["detect", "--project", str(path), "--json"]) == 0
    taught = json.loads(capsys.readouterr().out)["taught"]
    assert taught == {"removed": removed, "rekinded": 0, "slides": FIELDS - MIN_EXAMPLES,
                      "examples": MIN_EXAMPLES * (len(RED_CENTRES) + 1)}


def test_white_cells_classified_on_fields_without_a_box_correction_are_kept_examples(
    project: ProjectStore,
) -> None:
    """Classifying a proposal makes it the technician's (source HUMAN) and
    keeps the detector's score: it still teaches what a kept white cell is,
    from a field where nothing had to be deleted."""
    detector = RedAsWhiteDetector()
    slides = [slide.id for slide in project.slides()]
    run_job(detect_slides(project, detector, slides))
    review(project, slides[0])  # one field's deletions: one kept white cell there
    for slide_id in slides[1:MIN_EXAMPLES]:
        white = [cell.id for cell in project.cells(slide_id) if is_white_cell(cell.box)]
        project.set_label(white, "neutrophil")
    assert learn_proposals(project, detector.version) is not None
    run_job(detect_slides(project, detector, slides))
    for slide_id in slides[MIN_EXAMPLES:]:
        assert [is_white_cell(cell.box) for cell in project.cells(slide_id)] == [True]
    # The fields whose white cell was classified: the wrong boxes dropped, the classified cell kept.
    assert [cell.label for cell in project.cells(slides[1])] == ["neutrophil"]
