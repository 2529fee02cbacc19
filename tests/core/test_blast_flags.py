"""The lymphoid screen's flags in a project: written by the screen, decided
by the technician through core.review (each an undo step and a correction),
counted for the panel and the reports, and holding back a sign-off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core import review
from core.review import ReviewError
from core.schema import BlastFlag, Box, CellKind, CorrectionAction, LabelSource, NewCell
from core.store import ProjectStore, SignOffRefusedError
from core.taxonomy import BLAST
from tests.core.images import write_image


@pytest.fixture
def store(project_location: str, tmp_path: Path) -> Iterator[ProjectStore]:
    project = ProjectStore.create(project_location)
    project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
    yield project
    project.close()


def _lymphocytes(store: ProjectStore, n: int) -> list[int]:
    new = [NewCell(Box(4 * i, 4, 4 * i + 3, 7), CellKind.WHITE, label="lymphocyte", source=LabelSource.MODEL)
           for i in range(n)]
    return [cell.id for cell in store.add_cells(1, new, "Detect cells")]


def test_a_screen_flags_the_suspected_cells_and_counts_the_rest(store: ProjectStore) -> None:
    a, b, c = _lymphocytes(store, 3)
    store.record_screen(1, [(a, 0.91, "pre", True), (b, 0.1, "early", False)], "screen 1.0.0")
    assert store.cell(a).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
    assert store.cell(b).screen.flag is BlastFlag.NONE  # type: ignore[union-attr]
    assert store.cell(c).screen is None
    assert store.blast_tally(1).line() == (
        "Blasts suspected: 1 of 2 lymphoid cells (0 confirmed, 0 dismissed, 1 to decide)")
    # Screened again without `a` or `b` (no longer lymphoid): b's verdict
    # goes, a's open flag stays until someone decides it.
    store.record_screen(1, [(c, 0.2, "early", False)], "screen 1.0.0")
    assert store.cell(b).screen is None and store.cell(a).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
    assert store.blast_tally(1).line() == (
        "Blasts suspected: 1 of 2 lymphoid cells (0 confirmed, 0 dismissed, 1 to decide)")


def test_confirming_adds_blast_to_the_classes_and_is_a_correction_undone_as_one_step(store: ProjectStore) -> None:
    a, b = _lymphocytes(store, 2)
    store.record_screen(1, [(a, 0.91, "pre", True), (b, 0.1, "early", False)], "screen 1.0.0")
    assert BLAST not in store.taxonomy
    outcome = review.confirm_blast(store, [a, b])
    assert outcome.changed == (a,) and outcome.left == (b,)
    assert outcome.note.startswith("Blast added to the project's classes. 1 cell confirmed as Blast; 1 cell without")
    cell = store.cell(a)
    assert (cell.label, cell.reviewed, cell.screen.flag) == (BLAST, True, BlastFlag.CONFIRMED)  # type: ignore[union-attr]
    assert store.taxonomy.get(BLAST).display == "Blast" and store.taxonomy.get(BLAST).key == "9"
    (correction,) = store.corrections()
    assert (correction.action, correction.old_label, correction.new_label) == (
        CorrectionAction.CONFIRM_BLAST, "lymphocyte", BLAST)
    assert store.undo() == "Confirm blast"
    assert store.cell(a).label == "lymphocyte" and store.cell(a).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
    assert store.corrections() == []


def test_dismissing_keeps_the_class_and_a_later_screen_keeps_the_decision(store: ProjectStore) -> None:
    (a,) = _lymphocytes(store, 1)
    store.record_screen(1, [(a, 0.91, "pre", True)], "screen 1.0.0")
    review.dismiss_blast(store, [a])
    assert store.cell(a).label == "lymphocyte" and store.cell(a).screen.flag is BlastFlag.DISMISSED  # type: ignore[union-attr]
    assert store.corrections()[-1].action is CorrectionAction.DISMISS_BLAST
    store.record_screen(1, [(a, 0.95, "pro", True)], "screen 1.0.0")
    assert store.cell(a).screen.flag is BlastFlag.DISMISSED  # type: ignore[union-attr]
    with pytest.raises(ReviewError, match="none of these cells carries a suspected-blast flag"):
        review.dismiss_blast(store, _lymphocytes(store, 1))


def test_the_blast_class_key_decides_a_flag_and_another_class_undoes_a_confirmation(store: ProjectStore) -> None:
    (a,) = _lymphocytes(store, 1)
    store.record_screen(1, [(a, 0.91, "pre", True)], "screen 1.0.0")
    review.set_class(store, [a], "monocyte")
    assert store.cell(a).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
    review.confirm_blast(store, [a])
    review.set_class(store, [a], "lymphocyte")
    assert store.cell(a).screen.flag is BlastFlag.DISMISSED  # type: ignore[union-attr]
    review.set_class(store, [a], BLAST)
    assert store.cell(a).screen.flag is BlastFlag.CONFIRMED  # type: ignore[union-attr]
    with pytest.raises(ReviewError, match="labelled Blast; give it its class"):
        review.dismiss_blast(store, [a])


def test_sign_off_waits_for_every_flag_to_be_decided(store: ProjectStore) -> None:
    a, b = _lymphocytes(store, 2)
    review.accept(store, [a, b])
    store.record_screen(1, [(a, 0.91, "pre", True), (b, 0.8, "pro", True)], "screen 1.0.0")
    with pytest.raises(SignOffRefusedError, match="2 suspected blasts are not decided"):
        store.sign_off(1, "AB", target=1)
    review.dismiss_blast(store, [a])
    with pytest.raises(SignOffRefusedError, match="1 suspected blast is not decided"):
        store.sign_off(1, "AB", target=1)
    review.confirm_blast(store, [b])
    store.sign_off(1, "AB", target=1)
    assert store.blast_tally(1).line() == (
        "Blasts suspected: 2 of 2 lymphoid cells (1 confirmed, 1 dismissed, 0 to decide)")


def test_both_reports_say_how_many_blasts_were_suspected_and_confirmed(store: ProjectStore, tmp_path: Path) -> None:
    import csv

    from core.report import write_report
    from tests.core.test_differential_report import pdf_text

    a, b, c = _lymphocytes(store, 3)
    store.record_screen(1, [(a, 0.91, "pre", True), (b, 0.8, "pro", True), (c, 0.1, "pre", False)], "screen 1.0.0")
    review.confirm_blast(store, [a])
    line = "Blasts suspected: 2 of 3 lymphoid cells (1 confirmed, 0 dismissed, 1 to decide)"
    (tmp_path / "out").mkdir()
    rows = list(csv.DictReader(write_report(store, tmp_path / "out" / "r.csv").open(encoding="utf-8-sig")))
    assert [row["blast_screen"] for row in rows] == [line, line]  # the slide, then the total
    assert (rows[0]["blasts_suspected"], rows[0]["lymphoid_cells_screened"], rows[0]["blasts_confirmed"],
            rows[0]["blast_flags_open"]) == ("2", "3", "1", "1")
    text = " ".join(pdf_text(write_report(store, tmp_path / "out" / "r.pdf")).split())
    assert f"Lymphoid screen: {line}" in text


def test_a_report_of_an_unscreened_slide_leaves_the_screen_out(store: ProjectStore, tmp_path: Path) -> None:
    import csv

    from core.report import write_report

    _lymphocytes(store, 1)
    (tmp_path / "out").mkdir()
    (row, _total) = csv.DictReader(write_report(store, tmp_path / "out" / "r.csv").open(encoding="utf-8-sig"))
    assert row["blast_screen"] == "" and row["blasts_suspected"] == ""


def test_the_refusal_names_the_cells_whose_flags_wait(store: ProjectStore) -> None:
    ids = _lymphocytes(store, 7)
    review.accept(store, ids)
    store.record_screen(1, [(cell_id, 0.9, "pre", True) for cell_id in ids[1:]], "screen 1.0.0")
    named = ", ".join(map(str, ids[1:6]))
    with pytest.raises(SignOffRefusedError, match=rf"6 suspected blasts are not decided \(cells {named} and 1 more\)$"):
        store.sign_off(1, "AB", target=1)
    review.dismiss_blast(store, ids[1:6])
    with pytest.raises(SignOffRefusedError, match=rf"1 suspected blast is not decided \(cell {ids[6]}\)$"):
        store.sign_off(1, "AB", target=1)


def test_marking_a_screened_cell_red_or_platelet_ends_its_open_flag_and_undo_gives_it_back(
        store: ProjectStore) -> None:
    a, b, c, d = _lymphocytes(store, 4)
    review.accept(store, [a, b, c, d])
    store.record_screen(1, [(a, 0.91, "pre", True), (b, 0.8, "pro", True), (c, 0.1, "pre", False),
                            (d, 0.7, "early", True)], "screen 1.0.0")
    review.confirm_blast(store, [d])
    review.set_kind(store, [a], CellKind.RED)
    review.set_kind(store, [c, d], CellKind.PLATELET)
    # a's open flag and c's verdict were a white cell's; d's confirmation is the technician's and stays.
    assert [store.cell(cell_id).screen for cell_id in (a, c)] == [None, None]
    assert store.cell(d).screen.flag is BlastFlag.CONFIRMED  # type: ignore[union-attr]
    assert store.blast_tally(1).open == 1 and store.open_blast_flags(1) == [b]
    with pytest.raises(SignOffRefusedError, match=rf"1 suspected blast is not decided \(cell {b}\)"):
        store.sign_off(1, "AB", target=1)
    assert store.corrections()[-1].action is CorrectionAction.RELABEL
    store.undo()
    store.undo()
    assert store.cell(a).kind is CellKind.WHITE and store.cell(a).screen.flag is BlastFlag.SUSPECTED  # type: ignore[union-attr]
    assert store.cell(c).screen.flag is BlastFlag.NONE  # type: ignore[union-attr]
    assert store.open_blast_flags(1) == [a, b]


def test_an_open_flag_left_on_a_cell_no_longer_white_holds_nothing_back_and_the_next_screen_clears_it(
        store: ProjectStore) -> None:
    (a,) = _lymphocytes(store, 1)
    review.accept(store, [a])
    # As a project marked before kinds ended flags holds it: an open flag on a red cell.
    (red,) = store.add_cells(1, [NewCell(Box(40, 30, 50, 40), CellKind.RED, source=LabelSource.MODEL)], "Detect")
    store.record_screen(1, [(a, 0.1, "pre", False), (red.id, 0.9, "pre", True)], "screen 1.0.0")
    assert store.blast_tally(1).open == 0 and store.blast_tally().screened == 1 and store.open_blast_flags(1) == []
    legacy = store.cell(red.id)
    assert legacy.screen.flag is BlastFlag.SUSPECTED and not legacy.open_blast_flag  # type: ignore[union-attr]
    store.record_screen(1, [(a, 0.1, "pre", False)], "screen 1.0.0")
    assert store.cell(red.id).screen is None
    store.sign_off(1, "AB", target=1)
