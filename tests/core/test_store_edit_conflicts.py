"""Row versions: every change to a cell's row moves its version on, and an
edit made on cells as a station showed them is refused, whole and in
words, once another station has changed one of them since.  Run on a file
and on a server; a file's stations take turns (its lock), a server's edit
side by side."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.identity import Identity
from core.schema import Box, Cell, CellKind, LabelSource, NewCell
from core.store import ProjectStore, StoreError, StoreEvent, StoreEventKind
from core.store.errors import EditConflictError
from tests.core.images import write_image

AB = Identity("AB", "bench-1")
CD = Identity("CD", "bench-2")


def proposal(x: float) -> NewCell:
    return NewCell(box=Box(x, 5, x + 10, 15), kind=CellKind.WHITE, label="lymphocyte", source=LabelSource.MODEL,
                   model_version="cls-1", score=0.9)


def make_project(location: str, tmp_path: Path) -> list[Cell]:
    with ProjectStore.create(location, identity=AB) as store:
        slide = store.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        return store.add_cells(slide.id, [proposal(10), proposal(30)], description="Detect")


def at_station(location: str, identity: Identity, work: Callable[[ProjectStore], object]) -> object:
    with ProjectStore.open(location, identity=identity) as store:
        return work(store)


def seen(*cells: Cell) -> dict[int, int]:
    return {cell.id: cell.row_version for cell in cells}


def test_every_change_to_a_cell_moves_its_version_on(project_location: str, tmp_path: Path) -> None:
    first, _ = make_project(project_location, tmp_path)
    with ProjectStore.open(project_location, identity=AB) as store:

        def remove_and_undo() -> None:
            store.remove_cells([first.id])
            store.undo()  # back under its own id, a version past the one deleted

        versions = [store.cell(first.id).row_version]
        for change in (
            lambda: store.set_label([first.id], "neutrophil"),
            lambda: store.confirm([first.id]),
            lambda: store.move_cell(first.id, Box(11, 5, 21, 15)),
            lambda: store.nudge_cell(first.id, Box(12, 5, 22, 15)),
            lambda: store.nudge_cell(first.id, Box(13, 5, 23, 15)),  # joins the nudge before: still a change
            lambda: store.set_kind([first.id], CellKind.RED),
            lambda: store.set_predictions([(first.id, "monocyte", {"monocyte": 0.8})], "cls-2"),
            store.undo,
            store.redo,
            remove_and_undo,
        ):
            change()
            versions.append(store.cell(first.id).row_version)
    assert versions == sorted(set(versions)), versions


def test_a_stale_edit_is_refused_naming_who_changed_the_cell_where_when_and_how(
    project_location: str, tmp_path: Path
) -> None:
    first, second = make_project(project_location, tmp_path)
    shown: list[Cell] = at_station(project_location, AB, lambda store: store.cells(first.slide_id))  # type: ignore[assignment]
    at_station(project_location, CD, lambda store: store.set_label([second.id], "monocyte"))
    with ProjectStore.open(project_location, identity=AB) as store:
        steps = len(store.trail())
        with pytest.raises(EditConflictError) as refused:
            # The first cell is unchanged, the second is not: neither is written.
            store.set_label([first.id, second.id], "neutrophil", seen=seen(*shown))
        assert refused.value.cell_id == second.id
        message = str(refused.value)
        assert message.startswith(f"{store.path}: Cell {second.id} was changed by CD on bench-2 at ")
        assert message.endswith(
            "(class Lymphocyte -> Monocyte; marked reviewed) since you saw it; your change was not saved")
        assert store.cell(first.id).label == "lymphocyte" and store.cell(first.id).row_version == first.row_version
        assert store.cell(second.id).label == "monocyte"
        assert len(store.trail()) == steps


def test_a_cell_deleted_elsewhere_is_refused_as_deleted(project_location: str, tmp_path: Path) -> None:
    first, _ = make_project(project_location, tmp_path)
    at_station(project_location, CD, lambda store: store.remove_cells([first.id]))
    with ProjectStore.open(project_location, identity=AB) as store, pytest.raises(EditConflictError) as refused:
        store.move_cell(first.id, Box(0, 0, 9, 9), seen=seen(first))
    assert f"Cell {first.id} was deleted by CD on bench-2 at " in str(refused.value)


def test_an_edit_on_what_the_station_itself_last_wrote_is_never_refused(project_location: str, tmp_path: Path) -> None:
    first, second = make_project(project_location, tmp_path)
    with ProjectStore.open(project_location, identity=AB) as store:
        store.set_label([first.id], "neutrophil", seen=seen(first))
        moved = store.move_cell(first.id, Box(11, 5, 21, 15), seen=seen(store.cell(first.id)))
        nudged = store.nudge_cell(first.id, Box(12, 5, 22, 15), seen=seen(moved))
        store.nudge_cell(first.id, Box(13, 5, 23, 15), seen=seen(nudged))
        store.confirm([second.id], seen=seen(second))
        store.set_kind([second.id], CellKind.RED, seen=seen(store.cell(second.id)))
        store.remove_cells([second.id], seen=seen(store.cell(second.id)))
        store.set_label([first.id], "monocyte")  # no view given: the cell as it is now
        assert store.cell(first.id).label == "monocyte"


def test_an_undo_elsewhere_is_named_as_an_undo(project_location: str, tmp_path: Path) -> None:
    first, _ = make_project(project_location, tmp_path)

    def relabel_and_undo(store: ProjectStore) -> None:
        store.set_label([first.id], "monocyte")
        store.undo()

    at_station(project_location, CD, relabel_and_undo)
    with ProjectStore.open(project_location, identity=AB) as store, pytest.raises(EditConflictError) as refused:
        store.confirm([first.id], seen=seen(first))
    assert f'Cell {first.id}\'s "Set class" was undone by CD on bench-2 at ' in str(refused.value)


def test_two_servers_stations_racing_on_one_cell_cannot_both_write_it(postgres_url: str, tmp_path: Path) -> None:
    """Both read the cell at one version; the second's write waits for the
    first's commit and then finds the row changed."""
    first, _ = make_project(postgres_url, tmp_path)
    outcome: list[BaseException | None] = []
    with ProjectStore.open(postgres_url, identity=AB) as ab, ProjectStore.open(postgres_url, identity=CD) as cd:
        def cd_edits() -> None:
            try:
                cd.set_label([first.id], "monocyte", seen=seen(first))
                outcome.append(None)
            except EditConflictError as error:
                outcome.append(error)

        with ab.edit("Set class"):
            ab.set_label([first.id], "neutrophil", seen=seen(first))
            racer = threading.Thread(target=cd_edits)
            racer.start()
            time.sleep(0.5)  # CD has read the cell at the version AB read and waits on AB's row
        racer.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], EditConflictError)
        assert "was changed by AB on bench-1" in str(outcome[0])
        assert ab.cell(first.id).label == "neutrophil" and cd.cell(first.id).label == "neutrophil"


def test_a_station_hears_what_another_saved(project_location: str, tmp_path: Path) -> None:
    """A server's stations name the cells they changed; a file's other
    windows cannot, so any change of a file is heard as a reload."""
    first, _ = make_project(project_location, tmp_path)
    with ProjectStore.open(project_location, read_only=True) as watcher, \
            ProjectStore.open(project_location, identity=CD) as station:
        watcher.changes_elsewhere()  # whatever opening the station wrote
        assert watcher.changes_elsewhere() == []
        station.set_label([first.id], "monocyte")
        heard = watcher.changes_elsewhere()
        if watcher.is_file:
            assert heard == [StoreEvent(StoreEventKind.RELOADED)]
        else:
            assert StoreEvent(StoreEventKind.CELLS_CHANGED, first.slide_id, (first.id,)) in heard
        assert watcher.changes_elsewhere() == []
        assert watcher.cell(first.id).label == "monocyte"


def test_a_server_gone_is_said_when_listening(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    make_project(postgres_url, tmp_path)
    with ProjectStore.open(postgres_url, read_only=True) as watcher:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            backends = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()").fetchall()
            for (backend,) in backends:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        # A window's timer (wait=False) reads the socket without a query:
        # the server's close is met there, at once or at a later look.
        with pytest.raises(StoreError, match="lost the connection to the PostgreSQL server"):
            for _ in range(20):
                watcher.changes_elsewhere(wait=False)
                time.sleep(0.05)


def test_two_servers_stations_editing_the_same_cells_in_opposite_orders_never_deadlock(
    postgres_url: str, tmp_path: Path
) -> None:
    """Each writes the cells in id order, whatever order it was given them
    in: one waits for the other, and is refused (its view is out of date)
    rather than both stopped by the server as a deadlock."""
    first, second = make_project(postgres_url, tmp_path)
    failures: list[BaseException] = []
    with ProjectStore.open(postgres_url, identity=AB) as ab, ProjectStore.open(postgres_url, identity=CD) as cd:
        def edits(store: ProjectStore, ids: list[int]) -> None:
            for n in range(30):
                try:
                    store.set_label(ids, ("monocyte", "neutrophil")[n % 2])
                except EditConflictError:
                    pass
                except BaseException as error:  # noqa: BLE001 - a deadlock is what this looks for
                    failures.append(error)

        racers = [threading.Thread(target=edits, args=(ab, [first.id, second.id])),
                  threading.Thread(target=edits, args=(cd, [second.id, first.id]))]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(60)
    assert not failures, failures[0]


def test_a_cell_named_twice_in_one_edit_is_written_once(project_location: str, tmp_path: Path) -> None:
    first, _ = make_project(project_location, tmp_path)
    with ProjectStore.open(project_location, identity=AB) as store:
        store.set_label([first.id, first.id], "monocyte", seen=seen(first))
        assert store.cell(first.id).row_version == first.row_version + 1
