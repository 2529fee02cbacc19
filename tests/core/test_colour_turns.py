"""Looking at an unlike field in the colours the detector learnt
(core.detection.colour_turns), on generated fields with a fake detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.detection.augment import greyed, turned_hue
from core.detection.colour_turns import FRUITLESS, TURNS, VOTES, ColourTurner, HueTurn, turned
from core.detection.familiarity import SLIDE_KEY, FamiliarityReference, slide_colour_turn, slide_is_unlike
from core.inference import Detection, detect_slides
from core.jobs import run_job
from core.store import ProjectStore
from tests.core.test_familiarity import PINK_RED, PURPLE, RED_CENTRES, proposals, reference, stained

__all__ = ["reference"]  # the fixture, shared with test_familiarity


class ColourSensingDetector:
    """Finds the field's cells, surely only where its red cells are pink:
    a detector that learnt pink red cells."""

    version = "det-colour-1"

    def __init__(self, familiarity: FamiliarityReference) -> None:
        self.familiarity = familiarity
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        x, y = RED_CENTRES[0]
        pinkness = np.abs(image[y - 4 : y + 4, x - 4 : x + 4].reshape(-1, 3).mean(axis=0) - PINK_RED).max()
        score = 0.9 if pinkness < 25 else 0.4
        return [Detection(d.box, d.kind, score) for d in proposals()]


def _field(seed: int = 0) -> np.ndarray:
    return stained(PINK_RED, PURPLE, np.random.default_rng(seed))


def test_every_turn_but_none_is_tried_and_each_undoes_a_change_of_colours() -> None:
    assert len(TURNS) == 23 and HueTurn(False, 0) not in TURNS
    field = _field()
    back = turned(turned_hue(field, 180), HueTurn(False, 180))
    assert np.abs(back.astype(int) - field).mean() < 2
    swapped = np.ascontiguousarray(field[:, :, ::-1])  # red and blue change places
    assert np.abs(turned(swapped, HueTurn(True, 0)).astype(int) - field).mean() < 2
    assert HueTurn(True, 30).describe() == "red and blue swapped, hues turned by 30\N{DEGREE SIGN}"


def test_a_familiar_field_is_looked_at_once(reference: FamiliarityReference) -> None:
    detector = ColourSensingDetector(reference)
    seen = ColourTurner(detector).detect(_field())
    assert seen.turn is None and seen.verdict is not None and not seen.verdict.unlike and detector.calls == 1


def test_a_turned_field_is_looked_at_in_the_colours_the_detector_knows(reference: FamiliarityReference) -> None:
    detector = ColourSensingDetector(reference)
    seen = ColourTurner(detector).detect(turned_hue(_field(), 180))
    assert seen.verdict is not None and seen.verdict.unlike  # the field's own verdict stands
    assert seen.turn == HueTurn(False, 180)
    assert all(d.score == 0.9 for d in seen.detections)
    assert detector.calls == 1 + len(TURNS)


def test_once_the_first_fields_agree_later_fields_are_looked_at_in_their_turn(reference) -> None:
    detector = ColourSensingDetector(reference)
    turner = ColourTurner(detector)
    for seed in range(VOTES):
        assert turner.detect(turned_hue(_field(seed), 120)).turn == HueTurn(False, 240)
    detector.calls = 0
    assert turner.detect(turned_hue(_field(9), 120)).turn == HueTurn(False, 240)
    assert detector.calls == 2  # the field as it is, and in the majority's turn
    # A field in the colours the detector knows is looked at in the run's
    # turn too, and kept as it is: the detector is surer of it so.
    detector.calls = 0
    assert turner.detect(_field(10)).turn is None and detector.calls == 2


def test_searched_fields_that_disagree_set_no_turn_for_the_run(reference: FamiliarityReference) -> None:
    detector = ColourSensingDetector(reference)
    turner = ColourTurner(detector)
    for seed, degrees in enumerate((60, 120, 180)):  # three fields, three turns: no majority
        assert turner.detect(turned_hue(_field(seed), degrees)).turn == HueTurn(False, 360 - degrees)
    detector.calls = 0
    # A familiar field is not looked at in anybody's turn: it is left as it is.
    assert turner.detect(_field(10)).turn is None and detector.calls == 1
    # Unlike ones are still searched on their own, and their votes can make
    # a majority: 240 degrees has 3 of 5 once two more fields chose it.
    for seed in (3, 4):
        detector.calls = 0
        assert turner.detect(turned_hue(_field(seed), 120)).turn == HueTurn(False, 240)
        assert detector.calls == 1 + len(TURNS)
    detector.calls = 0
    assert turner.detect(turned_hue(_field(9), 120)).turn == HueTurn(False, 240) and detector.calls == 2


def test_a_grey_field_and_fields_no_turn_helps_end_the_searching(reference: FamiliarityReference) -> None:
    detector = ColourSensingDetector(reference)
    turner = ColourTurner(detector)
    seen = turner.detect(greyed(_field()))
    assert seen.turn is None and detector.calls == 1  # no hue to turn
    blue_grey = stained((140, 150, 175), PURPLE, np.random.default_rng(1))  # no turn makes it pink
    for _ in range(FRUITLESS):
        assert turner.detect(blue_grey).turn is None
    detector.calls = 0
    assert turner.detect(blue_grey).turn is None and detector.calls == 1


def test_a_slide_keeps_the_colours_its_proposals_were_found_in(
    tmp_path: Path, reference: FamiliarityReference
) -> None:
    with ProjectStore.create(tmp_path / "p.hemalabel") as store:
        for name, image in (("usual.png", _field(1)), ("turned.png", turned_hue(_field(2), 180))):
            Image.fromarray(image).save(tmp_path / name)
            store.add_slide(tmp_path / name, 200, 230)
        usual, turned_slide = store.slides()
        run_job(detect_slides(store, ColourSensingDetector(reference), [usual.id, turned_slide.id]))
        usual, turned_slide = store.slides()
        assert slide_colour_turn(usual) is None and not slide_is_unlike(usual)
        assert slide_is_unlike(turned_slide)
        assert slide_colour_turn(turned_slide) == "hues turned by 180\N{DEGREE SIGN}"
        assert turned_slide.attributes[SLIDE_KEY]["detector"] == "det-colour-1"
        assert [c.score for c in store.cells(turned_slide.id)] == pytest.approx([0.9] * len(proposals()))
