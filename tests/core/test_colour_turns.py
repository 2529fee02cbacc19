"""Looking at an unlike field in the colours the detector learnt
(core.detection.colour_turns), on generated fields with a fake detector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.classifier.preprocess import resize_square
from core.crops import crop_square
from core.detection.augment import greyed, turned_hue
from core.detection.colour_turns import (
    FRUITLESS,
    TURNS,
    VOTES,
    ColourTurner,
    HueTurn,
    project_turn,
    slide_turn,
    turned,
)
from core.detection.familiarity import SLIDE_KEY, FamiliarityReference, slide_colour_turn, slide_is_unlike
from core.inference import Detection, classify_slides, detect_slides
from core.jobs import run_job
from core.project_learning import CellFeatures, FeatureCache, fill_cache
from core.schema import Box, Cell, CellKind
from core.store import ProjectStore
from core.training.loading import load_cells
from core.training.samples import from_store
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


class ColourRecordingClassifier:
    """Calls every cell a neutrophil and keeps the mean colour of each crop it was shown."""

    version = "cls-colours-1"
    classes = ("neutrophil", "lymphocyte")
    crop_margin = 0.0

    def __init__(self) -> None:
        self.colours: list[np.ndarray] = []

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        self.colours.extend(crop.reshape(-1, 3).mean(axis=0) for crop in crops)
        return np.tile([0.9, 0.1], (len(crops), 1)).astype(np.float32)

    def threshold_for(self, label: str) -> float:
        return 0.5


def _mean_colour(image: np.ndarray, box: Box) -> np.ndarray:
    return crop_square(image, box, 0.0).reshape(-1, 3).mean(axis=0)


def _project_of(tmp_path: Path, fields: list[np.ndarray], reference: FamiliarityReference) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "lab.hemalabel")
    for index, image in enumerate(fields):
        Image.fromarray(image).save(tmp_path / f"f{index}.png")
        store.add_slide(tmp_path / f"f{index}.png", 200, 230)
    run_job(detect_slides(store, ColourSensingDetector(reference), [s.id for s in store.slides()]))
    return store


def test_a_labs_agreed_turn_is_the_colours_its_cells_are_classified_and_learnt_in(
    tmp_path: Path, reference: FamiliarityReference
) -> None:
    own = [_field(seed) for seed in range(VOTES + 1)]
    with _project_of(tmp_path, [turned_hue(field, 180) for field in own], reference) as store:
        slides = store.slides()
        assert {slide_turn(s) for s in slides} == {HueTurn(False, 180)} and project_turn(slides) == HueTurn(False, 180)
        classifier = ColourRecordingClassifier()
        run_job(classify_slides(store, classifier, [s.id for s in slides]))
        # Each crop in the colours the detector found the cells in: the field's own, untouched ones.
        expected = [_mean_colour(field, cell.box) for field, slide in zip(own, slides)
                    for cell in store.cells(slide.id) if cell.kind is CellKind.WHITE]
        assert np.abs(np.array(classifier.colours) - np.array(expected)).max() < 3
        # A retrain reads the reviewed cells in the same colours.
        white = [c for c in store.cells(slides[0].id) if c.kind is CellKind.WHITE]
        store.set_label([white[0].id], "neutrophil")
        (sample,) = from_store(store, ["neutrophil"], group_by_slide=True)
        assert sample.colours == HueTurn(False, 180)
        arrays = run_job(load_cells([sample], ["neutrophil"], 16, 0.0, with_train_view=False))
        unturned = run_job(load_cells([replace(sample, colours=None)], ["neutrophil"], 16, 0.0, with_train_view=False))
        own_view = resize_square(crop_square(own[0], white[0].box, 0.0), 16)
        assert np.abs(arrays.eval_view[0].astype(int) - own_view).mean() < np.abs(
            unturned.eval_view[0].astype(int) - own_view).mean()


def test_a_turn_the_labs_fields_do_not_agree_on_leaves_the_classifier_the_fields_colours(
    tmp_path: Path, reference: FamiliarityReference
) -> None:
    fields = [turned_hue(_field(0), 180), _field(1), _field(2)]  # one turned field among familiar ones
    with _project_of(tmp_path, fields, reference) as store:
        slides = store.slides()
        assert slide_turn(slides[0]) == HueTurn(False, 180) and project_turn(slides) is None
        classifier = ColourRecordingClassifier()
        run_job(classify_slides(store, classifier, [slides[0].id]))
        cell = next(c for c in store.cells(slides[0].id) if c.kind is CellKind.WHITE)
        assert np.abs(classifier.colours[0] - _mean_colour(fields[0], cell.box)).max() < 1


def test_a_slides_recorded_turn_is_read_back_only_when_it_is_one() -> None:
    assert HueTurn.from_attribute(HueTurn(True, 30).to_attribute()) == HueTurn(True, 30)
    for junk in (None, "hues turned by 30°", {"swapped": "yes", "degrees": 30}, {"swapped": False, "degrees": 0},
                 {"swapped": False, "degrees": 45}, {"swapped": True, "degrees": True}):
        assert HueTurn.from_attribute(junk) is None


class ColourFeatures:
    """A feature model whose embedding is each crop's mean colour."""

    def features(self, image: np.ndarray, cells: Sequence[Cell]) -> list[CellFeatures]:
        return [CellFeatures(c.box.as_tuple(), _mean_colour(image, c.box), np.zeros(2)) for c in cells]


def test_the_learnings_features_are_read_again_once_a_lab_agrees_on_a_turn(
    tmp_path: Path, reference: FamiliarityReference
) -> None:
    own = [_field(seed) for seed in range(VOTES + 1)]
    with _project_of(tmp_path, [turned_hue(field, 180) for field in own], reference) as store:
        checks = {s.id: s.attributes[SLIDE_KEY] for s in store.slides()}
        for slide_id in checks:  # as before detection agreed on the turn
            store.update_slide_attributes(slide_id, **{SLIDE_KEY: None})
        cells, cache = store.cells(kind=CellKind.WHITE), FeatureCache()
        assert fill_cache(store, ColourFeatures(), cache, cells) == len(cells)
        for slide_id, check in checks.items():
            store.update_slide_attributes(slide_id, **{SLIDE_KEY: check})
        assert fill_cache(store, ColourFeatures(), cache, cells) == len(cells)  # every cell, now in the lab's turn
        assert fill_cache(store, ColourFeatures(), cache, cells) == 0
        first = next(c for c in cells if c.slide_id == store.slides()[0].id)
        cached = cache.get(first.id)
        assert cached is not None and np.abs(cached.embedding - _mean_colour(own[0], first.box)).max() < 3
