"""Telling a field unlike the detector's training fields (issue 30), on
generated fields with fake detector outputs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.detection.augment import turned_hue
from core.detection.familiarity import (
    SLIDE_KEY,
    FamiliarityReference,
    field_colours,
    judge_field,
    slide_is_unlike,
    slide_was_judged,
    unlike_sentence,
    white_share,
)
from core.detection.familiarity_learning import reference_from
from core.inference import Detection, detect_slides
from core.jobs import run_job
from core.schema import Box, CellKind
from core.store import ProjectStore

# A field of 4 x 3 red cells and a white cell in its middle row, on a pale background.
RED_CENTRES = [(30 + 50 * col, 25 + 90 * row) for row in range(3) for col in range(4) if (row, col) != (1, 1)]
WHITE_CENTRE = (80, 115)
RED_RADIUS, WHITE_RADIUS = 16, 22


def stained(red: tuple[int, int, int], nucleus: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A 200 x 230 field: pink-white background, red cells and a white cell's nucleus, colours jittered."""
    def jitter(colour: tuple[int, int, int]) -> np.ndarray:
        return np.clip(np.array(colour) + rng.normal(0, 4, 3), 0, 255)

    image = np.empty((230, 200, 3), np.uint8)
    image[:] = jitter((238, 226, 228))
    yy, xx = np.mgrid[0:230, 0:200]
    for cx, cy in RED_CENTRES:
        image[(xx - cx) ** 2 + (yy - cy) ** 2 < RED_RADIUS**2] = jitter(red)
    cx, cy = WHITE_CENTRE
    image[(xx - cx) ** 2 + (yy - cy) ** 2 < WHITE_RADIUS**2] = jitter(nucleus)
    return image


def box_around(centre: tuple[int, int], radius: int) -> Box:
    return Box(centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius)


def proposals(red_as: CellKind = CellKind.RED) -> list[Detection]:
    """The fake detector's output: each red cell as `red_as`, the white cell as white."""
    found = [Detection(box_around(c, RED_RADIUS), red_as, 0.8) for c in RED_CENTRES]
    return found + [Detection(box_around(WHITE_CENTRE, WHITE_RADIUS), CellKind.WHITE, 0.9)]


PINK_RED, PURPLE = (214, 120, 130), (110, 50, 150)


@pytest.fixture(scope="module")
def reference() -> FamiliarityReference:
    """Learnt on 40 stained fields of one lab, the threshold on 20 more."""
    rng = np.random.default_rng(0)
    points = np.array([field_colours(stained(PINK_RED, PURPLE, rng), proposals()) for _ in range(40)])
    held = np.array([field_colours(stained(PINK_RED, PURPLE, rng), proposals()) for _ in range(20)])
    # One white cell a field, two on a few: three are more than any field held.
    return reference_from(points, held, [(1, 1 / 12)] * 50 + [(2, 2 / 12)] * 10)


def test_a_field_stained_as_the_training_fields_is_familiar(reference: FamiliarityReference) -> None:
    field = stained(PINK_RED, PURPLE, np.random.default_rng(99))
    verdict = judge_field(field, proposals(), reference)
    assert verdict is not None and not verdict.unlike
    assert verdict.unlikeness <= verdict.threshold


def test_blue_grey_red_cells_all_proposed_as_white_make_the_field_unlike(reference: FamiliarityReference) -> None:
    """The lab of issue 30: red cells stained blue-grey, every one proposed as a white cell."""
    field = stained((140, 150, 175), PURPLE, np.random.default_rng(5))
    verdict = judge_field(field, proposals(red_as=CellKind.WHITE), reference)
    assert verdict is not None and verdict.unlike


def test_white_proposals_everywhere_make_the_field_unlike_whatever_its_colours(
    reference: FamiliarityReference,
) -> None:
    """The white-proposal rule alone (the colour thresholds out of reach):
    three red cells proposed as white are too many, one is not (no more
    white proposals than the fields learnt from held)."""
    share_only = replace(reference, threshold=1e9, threshold_without_white=1e9)
    field = stained(PINK_RED, PURPLE, np.random.default_rng(8))
    found = proposals()
    three = [Detection(d.box, CellKind.WHITE, d.score) if n < 3 else d for n, d in enumerate(found)]
    verdict = judge_field(field, three, share_only)
    assert verdict is not None and verdict.white == 4 and verdict.unlike
    assert verdict.white_share == pytest.approx(4 / 12) and reference.white_share == pytest.approx(1 / 12, abs=1e-3)
    assert reference.min_white == 3
    one = [Detection(d.box, CellKind.WHITE, d.score) if n < 1 else d for n, d in enumerate(found)]
    verdict = judge_field(field, one, share_only)
    assert verdict is not None and verdict.white == 2 and not verdict.unlike
    assert white_share([]) == (0, 0.0)


@pytest.mark.parametrize("degrees", [60, 120, 180])
def test_a_field_with_its_hues_turned_is_unlike(reference: FamiliarityReference, degrees: int) -> None:
    field = turned_hue(stained(PINK_RED, PURPLE, np.random.default_rng(7)), degrees)
    verdict = judge_field(field, proposals(), reference)
    assert verdict is not None and verdict.unlike


def test_the_colours_read_are_those_of_the_proposed_boxes() -> None:
    field = stained(PINK_RED, PURPLE, np.random.default_rng(1))
    colours = field_colours(field, proposals())
    background_a, background_b, red_a, red_b, white_a, white_b, dark_a, dark_b = colours
    assert red_a > 20 and white_b < -20 and abs(background_a) < 8  # pink cells, purple nucleus, pale glass
    # The darkest quarter outside the white box: red cells, not the nucleus.
    lab = cv2.cvtColor(field, cv2.COLOR_RGB2LAB).astype(np.float32)
    outside = np.ones(field.shape[:2], dtype=bool)
    box = box_around(WHITE_CENTRE, WHITE_RADIUS)
    outside[int(box.y0) : int(box.y1) + 1, int(box.x0) : int(box.x1) + 1] = False
    rest = lab[outside]
    darkest = rest[rest[:, 0] <= np.percentile(rest[:, 0], 25)]
    assert (dark_a, dark_b) == pytest.approx(darkest[:, 1:].mean(axis=0) - 128, abs=0.01)
    assert dark_b > white_b + 10
    # Without proposals the whole field stands for the red cells, and there is no white colour.
    whole = lab.reshape(-1, 3)
    without = field_colours(field, [])
    assert without[2:4] == pytest.approx(whole[:, 1:].mean(axis=0) - 128, abs=0.01)
    assert np.isnan(without[4:6]).all()
    assert without[:2] == pytest.approx([background_a, background_b])


def test_a_familiar_field_without_a_white_proposal_stays_familiar(reference: FamiliarityReference) -> None:
    """Most fields of a smear hold no white cell: such a field is compared
    on its darkest colour, not made unlike by the missing white box."""
    field = stained(PINK_RED, PURPLE, np.random.default_rng(11))
    red_only = [d for d in proposals() if d.kind is CellKind.RED]
    verdict = judge_field(field, red_only, reference)
    assert verdict is not None and not verdict.unlike
    assert verdict.threshold == reference.threshold_without_white
    turned = judge_field(turned_hue(field, 120), red_only, reference)
    assert turned is not None and turned.unlike


def test_without_a_reference_nothing_is_judged() -> None:
    assert judge_field(stained(PINK_RED, PURPLE, np.random.default_rng(1)), proposals(), None) is None


def test_the_reference_survives_the_card_and_a_malformed_one_is_named(reference: FamiliarityReference) -> None:
    section = reference.to_card({"reference_fields": 40})
    again = FamiliarityReference.from_card(section)
    assert again is not None and again.threshold == pytest.approx(reference.threshold, abs=1e-3)
    assert again.white_share == pytest.approx(reference.white_share, abs=1e-3)
    assert again.min_white == reference.min_white
    field = stained((140, 150, 175), PURPLE, np.random.default_rng(5))
    assert again.unlikeness(field_colours(field, proposals())) == pytest.approx(
        reference.unlikeness(field_colours(field, proposals())), rel=0.05)
    assert FamiliarityReference.from_card({}) is None
    with pytest.raises(ValueError, match="malformed familiarity section"):
        FamiliarityReference.from_card({"features": section["features"]})
    with pytest.raises(ValueError, match="familiarity spread"):
        FamiliarityReference.from_card({**section, "spread": [0.0] * 8})
    with pytest.raises(ValueError, match="familiarity points"):
        FamiliarityReference.from_card({**section, "points": section["points"][:2]})


def test_the_sentence_counts_the_unlike_fields() -> None:
    assert unlike_sentence(1, 5) == ("1 of 5 fields is unlike the detector's training fields: "
                                     "check their proposals or teach the detector")
    assert unlike_sentence(3, 5).startswith("3 of 5 fields are unlike")
    assert unlike_sentence(0, 5) == "None of the 5 fields judged is unlike the detector's training fields"


class JudgingDetector:
    """A fake detector whose card carries a reference: the red cells'
    colour decides whether a field is like its training fields."""

    version = "det-judging-1"

    def __init__(self, familiarity: FamiliarityReference | None) -> None:
        self.familiarity = familiarity

    def detect(self, image: np.ndarray) -> list[Detection]:
        return proposals()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    rng = np.random.default_rng(3)
    for name, red in (("usual.png", PINK_RED), ("blue.png", (140, 150, 175))):
        Image.fromarray(stained(red, PURPLE, rng)).save(tmp_path / name)
        store.add_slide(tmp_path / name, 200, 230)
    yield store
    store.close()


def test_detection_keeps_each_slides_verdict_and_a_later_run_replaces_it(
    project: ProjectStore, reference: FamiliarityReference
) -> None:
    usual, blue = project.slides()
    run_job(detect_slides(project, JudgingDetector(reference), [usual.id, blue.id]))
    usual, blue = project.slides()
    assert slide_was_judged(usual) and slide_was_judged(blue)
    assert not slide_is_unlike(usual) and slide_is_unlike(blue)
    assert blue.attributes[SLIDE_KEY]["detector"] == "det-judging-1"
    # A detector that carries no reference leaves no verdict behind.
    run_job(detect_slides(project, JudgingDetector(None), [blue.id]))
    blue = project.slide(blue.id)
    assert not slide_was_judged(blue) and not slide_is_unlike(blue)


def test_cli_detect_counts_the_unlike_fields(
    project: ProjectStore, reference: FamiliarityReference, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import core.detection.detector
    from app.cli.main import main

    path = project.path
    project.close()
    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: JudgingDetector(reference))
    assert main(["detect", "--project", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 of 2 fields is unlike the detector's training fields: check their proposals or teach the detector" in out
    assert "unlike: blue.png" in out and "unlike: usual.png" not in out
    assert main(["detect", "--project", str(path), "--json"]) == 0
    assert '"unlike_training": [\n    "blue.png"\n  ]' in capsys.readouterr().out


def test_cli_detect_over_a_folder_lists_the_unlike_images(
    tmp_path: Path, reference: FamiliarityReference, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    import core.detection.detector
    from app.cli.main import main

    rng = np.random.default_rng(4)
    for name, red in (("usual.png", PINK_RED), ("blue.png", (140, 150, 175))):
        Image.fromarray(stained(red, PURPLE, rng)).save(tmp_path / name)
    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: JudgingDetector(reference))
    assert main(["detect", "--images", str(tmp_path), "--out", str(tmp_path / "d.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["judged"] == 2 and result["unlike_training"] == [str(tmp_path / "blue.png")]


def test_a_fine_tuned_detectors_reference_has_every_reviewed_field_and_a_stride_of_the_replay(tmp_path: Path) -> None:
    """fine_tune_reference: the lab's reviewed fields (blue-grey red cells)
    are all points and the replayed original fields (pink) one in
    REFERENCE_STRIDE; the rest of the replay chooses the threshold.  Both
    kinds of field are then familiar, a field turned in hue is not."""
    from core.detection.familiarity_learning import REFERENCE_STRIDE, fine_tune_reference

    rng = np.random.default_rng(21)

    def saved(name: str, red: tuple[int, int, int]) -> Path:
        Image.fromarray(stained(red, PURPLE, rng)).save(tmp_path / name)
        return tmp_path / name

    reviewed = [saved(f"lab{i}.png", (140, 150, 175)) for i in range(8)]
    replayed = [saved(f"original{i}.png", PINK_RED) for i in range(24)]
    reference, chosen_on = run_job(fine_tune_reference(JudgingDetector(None), reviewed, replayed))
    assert len(reference.points) == 8 + 24 // REFERENCE_STRIDE
    assert chosen_on == {"reference_fields": 14, "reviewed_fields": 8, "replayed_fields": 24, "percentile": 99.5}
    for red in ((140, 150, 175), PINK_RED):
        verdict = judge_field(stained(red, PURPLE, rng), proposals(), reference)
        assert verdict is not None and not verdict.unlike
    turned = judge_field(turned_hue(stained(PINK_RED, PURPLE, rng), 180), proposals(), reference)
    assert turned is not None and turned.unlike
    with pytest.raises(ValueError, match="too few"):
        run_job(fine_tune_reference(JudgingDetector(None), reviewed[:2], []))
