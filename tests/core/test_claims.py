"""Slides claimed for review (core.store.claims through ProjectStore): a
station claims, another is told who holds it and is refused its edits,
takes it over with a reason the audit trail keeps, and a claim lapses
without a heartbeat or goes with its store.  Undo and redo act on one's
own steps where several stations edit.  On both engines where one store
can show it; two stores at once need the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.audit_trail import audit_trail
from core.identity import Identity
from core.inference import detect_slides
from core.jobs import run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore, SlideLockedError, StoreError
from core.store.claims import TAKE_OVER, ClaimHolder, Claims
from core.store.errors import SlideClaimedError, UndoConflictError
from tests.core.images import write_image
from tests.core.test_inference import FakeDetector

AB = Identity("AB", "bench-2")
CD = Identity("CD", "bench-5")


@pytest.fixture
def store(project_location: str, tmp_path: Path) -> Iterator[ProjectStore]:
    project = ProjectStore.create(project_location, identity=AB)
    for name in ("a.png", "b.png"):
        project.add_slide(write_image(tmp_path / "images" / name), 64, 48)
    yield project
    project.close()


@pytest.fixture
def two_stations(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ProjectStore, ProjectStore]]:
    first = ProjectStore.create(postgres_url, identity=AB)
    for name in ("a.png", "b.png"):
        first.add_slide(write_image(tmp_path / "images" / name), 64, 48)
    second = ProjectStore.open(postgres_url, identity=CD)
    yield first, second
    second.close()
    first.close()


def _other_station(store: ProjectStore) -> Claims:
    """A second station on the store's own connection: on a file, the only
    way two stations meet (the lock keeps a second window out).  The
    store's own station is made first: a file's forgets any other's."""
    assert store.station
    return Claims(store._db)


def _lapse(store: ProjectStore, slide_id: int) -> None:
    """The claim's station stopped beating longer ago than the timeout."""
    store._db.execute("UPDATE claims SET heartbeat = heartbeat - 1000 WHERE slide_id = ?", (slide_id,))


def _human_cell(store: ProjectStore, slide_id: int = 1) -> int:
    new = NewCell(Box(4, 4, 20, 20), CellKind.WHITE, label="neutrophil", source=LabelSource.MODEL, score=0.9)
    return store.add_cells(slide_id, [new], "Detect cells")[0].id


def test_a_claim_is_renewed_by_its_station_and_refused_to_another(store: ProjectStore) -> None:
    other = _other_station(store)
    assert store.claim(1) is None
    assert store.claim(1) is None  # its own claim: renewed
    holder = other.take(1, CD)
    assert holder is not None and (holder.who, holder.workstation) == ("AB", "bench-2")
    assert "in review by AB on bench-2 since" in holder.describe()
    assert other.take(2, CD) is None  # another slide is free
    assert store.claim_holder(2) is not None and store.claims_of_others().keys() == {2}


def test_a_slide_claimed_elsewhere_refuses_edits_as_a_signed_one_does(store: ProjectStore) -> None:
    cell = _human_cell(store)
    _other_station(store).take(1, CD)
    store.set_label([cell], "monocyte")  # a store that claims nothing (a command, a model run) edits as before
    assert store.claim(2) is None  # a window: it claims the slide it shows, and others' claims bind it
    with pytest.raises(SlideClaimedError, match=r"a\.png is in review by CD on bench-5 since .*take it over") as caught:
        store.set_label([cell], "lymphocyte")
    assert isinstance(caught.value, SlideLockedError) and str(store.path) in str(caught.value)
    assert store.cell(cell).label == "monocyte"


def test_a_signed_slide_another_station_has_open_is_not_unlocked_under_it(store: ProjectStore) -> None:
    cell = _human_cell(store)
    store.confirm([cell])
    store.sign_off(1, "AB", target=1)
    _other_station(store).take(1, CD)
    assert store.claim(2) is None  # a window
    with pytest.raises(SlideClaimedError, match=r"a\.png is in review by CD"):
        store.unlock(1, "AB", "recount")
    assert store.slide(1).signed_off_by == "AB"


def test_a_windows_model_run_passes_a_slide_in_review_elsewhere_by(store: ProjectStore) -> None:
    assert store.claim(2) is None  # a window's store
    _other_station(store).take(1, CD)
    failures = run_job(detect_slides(store, FakeDetector(), [1, 2]))
    assert [(failure.slide_id, "in review by CD on bench-5" in failure.reason) for failure in failures] == [(1, True)]
    assert store.cells(1) == [] and len(store.cells(2)) == 3


def test_a_claim_without_heartbeat_lapses_and_a_beat_keeps_it(store: ProjectStore) -> None:
    other = _other_station(store)
    assert other.take(1, CD) is None and other.take(2, CD) is None
    _lapse(store, 1)
    assert other.beat() == {1, 2}  # a late beat still finds its rows...
    _lapse(store, 1)
    assert store.claim(1) is None  # ...but a lapsed claim is anyone's
    assert other.beat() == {2}
    assert other.take(1, CD) is not None


def test_take_over_needs_a_reason_and_the_audit_trail_keeps_who_held_it(store: ProjectStore) -> None:
    _other_station(store).take(1, CD)
    with pytest.raises(StoreError, match="needs a reason"):
        store.take_over(1, "  ")
    held = store.take_over(1, "CD went home ill")
    assert held is not None and held.who == "CD"
    assert store.claim(1) is None  # ours now
    rows = [entry for entry in audit_trail(store) if entry.action == "Took over"]
    assert len(rows) == 1
    assert (rows[0].user, rows[0].workstation, rows[0].slide_id) == ("AB", "bench-2", 1)
    assert rows[0].change.startswith("reason: CD went home ill") and "held by CD on bench-5" in rows[0].change
    assert [record.action for record in store.trail() if record.is_take_over] == [TAKE_OVER]
    # A take-over of a free slide is a plain claim: nobody to record it against.
    assert store.take_over(2, "free anyway") is None
    assert len([entry for entry in audit_trail(store) if entry.action == "Took over"]) == 1


def test_claims_are_no_undo_step_and_closing_releases_them(store: ProjectStore) -> None:
    store.claim(1)
    store.release(1)
    store.claim(2)
    assert not store.can_undo()
    assert len(store.raw_rows("claims")) == 1
    location = store.path
    store.close()
    reopened = ProjectStore.open(location)
    try:
        assert reopened.raw_rows("claims") == []
    finally:
        reopened.close()


def test_a_file_forgets_the_claims_of_a_window_that_crashed(tmp_path: Path) -> None:
    location = tmp_path / "p.hemalabel"
    with ProjectStore.create(location) as project:
        project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        _other_station(project).take(1, CD)  # never released: the window died
    with ProjectStore.open(location) as project:
        assert project.claim(1) is None  # the file's lock proves that station gone


def test_on_a_file_undo_takes_back_steps_made_under_other_initials(tmp_path: Path) -> None:
    with ProjectStore.create(tmp_path / "p.hemalabel", identity=AB) as project:
        project.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        cell = _human_cell(project)
        project.set_label([cell], "lymphocyte")
        project.identity = CD  # the technician set other initials: one station all the same
        assert project.undo() == "Set class"


# ------------------------------------------------------------- two stations on a server
def test_a_window_sees_the_other_stations_claim_and_takes_it_over(
    two_stations: tuple[ProjectStore, ProjectStore],
) -> None:
    first, second = two_stations
    cell = _human_cell(first)
    assert first.claim(1) is None
    holder = second.claim(1)
    assert holder is not None and holder.who == "AB"
    with pytest.raises(SlideClaimedError):
        second.confirm([cell])
    second.take_over(1, "AB is at lunch")
    with pytest.raises(SlideClaimedError, match="in review by CD on bench-5"):
        first.confirm([cell])
    assert first.heartbeat() == set()  # the first station's window learns it lost the slide
    second.confirm([cell])
    second.close()
    assert first.claim(1) is None  # released on closing, not after the timeout


def _race(stations: list[ProjectStore], slide_id: int) -> list[ClaimHolder | None]:
    """Every station claims the slide at the same moment; what each was told."""
    barrier = threading.Barrier(len(stations))
    results: list[ClaimHolder | None] = [None] * len(stations)

    def claim(index: int) -> None:
        barrier.wait()
        results[index] = stations[index].claim(slide_id)

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(len(stations))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_stations_racing_for_one_slide_have_exactly_one_winner(postgres_url: str, tmp_path: Path) -> None:
    with ProjectStore.create(postgres_url) as maker:
        for index in range(5):
            maker.add_slide(write_image(tmp_path / "images" / f"{index}.png"), 64, 48)
    stations = [ProjectStore.open(postgres_url, identity=Identity(f"T{n}", f"bench-{n}")) for n in range(8)]
    try:
        for slide_id in range(1, 6):
            results = _race(stations, slide_id)
            winners = [index for index, result in enumerate(results) if result is None]
            assert len(winners) == 1, f"slide {slide_id}: {results}"
            winner = stations[winners[0]].identity.user
            assert all(result.who == winner for result in results if result is not None)
    finally:
        for station in stations:
            station.close()


def test_two_take_overs_at_once_each_record_whom_they_took_it_from(postgres_url: str, tmp_path: Path) -> None:
    with ProjectStore.create(postgres_url, identity=AB) as holder:
        holder.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        assert holder.claim(1) is None
        takers = [ProjectStore.open(postgres_url, identity=Identity(f"T{n}", f"bench-{n}")) for n in range(4)]
        try:
            barrier = threading.Barrier(len(takers))

            def take(station: ProjectStore) -> None:
                barrier.wait()
                station.take_over(1, "urgent")

            threads = [threading.Thread(target=take, args=(station,)) for station in takers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rows = [record for record in holder.trail() if record.is_take_over]
            # Each took it from the one before: a chain from AB, no one taken from twice.
            taken_from = [record.reason.split("held by ")[1].split(" on ")[0] for record in rows]
            takers_in_order = [str(record.user) for record in rows]
            assert taken_from == ["AB", *takers_in_order[:-1]]
            assert holder.claim_holder(1) is not None and holder.claim_holder(1).who == takers_in_order[-1]
        finally:
            for station in takers:
                station.close()


def test_each_station_undoes_its_own_steps(two_stations: tuple[ProjectStore, ProjectStore]) -> None:
    first, second = two_stations
    mine, theirs = _human_cell(first, 1), _human_cell(first, 2)
    first.undo()  # the detection of `theirs`: the first station's own step...
    first.redo()
    first.set_label([mine], "lymphocyte", "Set class Lymphocyte")
    second.set_label([theirs], "monocyte", "Set class Monocyte")
    assert first.undo_description() == "Set class Lymphocyte"
    assert second.undo_description() == "Set class Monocyte"
    assert first.undo() == "Set class Lymphocyte"
    assert first.cell(theirs).label == "monocyte" and first.cell(mine).label == "neutrophil"
    assert second.redo_description() is None and first.redo_description() == "Set class Lymphocyte"
    # The second station's new step leaves the first one's redo alone.
    second.set_label([theirs], "eosinophil", "Set class Eosinophil")
    assert first.redo() == "Set class Lymphocyte"
    assert second.undo() == "Set class Eosinophil"
    assert second.cell(theirs).label == "monocyte"


def test_an_undo_over_another_stations_later_change_is_refused_naming_them(
    two_stations: tuple[ProjectStore, ProjectStore],
) -> None:
    first, second = two_stations
    cell = _human_cell(first)
    first.set_label([cell], "lymphocyte", "Set class Lymphocyte")
    second.set_label([cell], "monocyte", "Set class Monocyte")
    with pytest.raises(UndoConflictError, match=rf'Undo of "Set class Lymphocyte" refused: cell {cell} was changed '
                                                r'since by CD on bench-5 at .*"Set class Monocyte"') as caught:
        first.undo()
    assert str(first.path) in str(caught.value)
    assert first.cell(cell).label == "monocyte"
    assert first.undo_description() == "Set class Lymphocyte"  # kept, for after the other's undo
    assert second.undo() == "Set class Monocyte"
    assert first.undo() == "Set class Lymphocyte"
    assert first.cell(cell).label == "neutrophil"
