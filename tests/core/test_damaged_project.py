"""A damaged project file (garbage in a page, flipped bits) is refused on
open with one DamagedProjectError naming the file, the problem and the
recover command; every command prints that one line and fails; an import
keeps a backup first; `recover` salvages the rows that can still be read.
Before, info/export/report ended in a raw sqlite3.DatabaseError traceback
and an import into a malformed file exited 0."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from app.cli.main import main
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import DamagedProjectError, ProjectStore
from core.store_integrity import recover_project
from tests.core.images import write_image

SLIDES, CELLS_PER_SLIDE = 4, 400
PAGE = 4096


@pytest.fixture(scope="module")
def sound_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sound")
    project = folder / "p.hemalabel"
    with ProjectStore.create(project) as store:
        for index in range(SLIDES):
            image = folder / f"s{index}.png"
            write_image(image, seed=index)
            slide = store.add_slide(image, 64, 48)
            store.add_cells(slide.id, [
                NewCell(Box(n % 60, n % 40, n % 60 + 4, n % 40 + 4), CellKind.WHITE, label="neutrophil",
                        source=LabelSource.MODEL, score=0.9, probabilities={"neutrophil": 0.9})
                for n in range(CELLS_PER_SLIDE)
            ])
    return project


def _copy(sound: Path, folder: Path) -> Path:
    for image in sound.parent.glob("*.png"):
        shutil.copy(image, folder / image.name)
    copy = folder / sound.name
    shutil.copy(sound, copy)
    return copy


def _middle_leaf_of(project: Path, table: str) -> int:
    with sqlite3.connect(project) as connection:
        pages = [row[0] for row in connection.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))]
    connection.close()
    assert len(pages) >= 3
    return pages[len(pages) // 2]


def _write_garbage(project: Path, page: int) -> None:
    with open(project, "r+b") as stream:
        stream.seek((page - 1) * PAGE)
        stream.write(bytes(range(7, 256)) * (PAGE // 249) + b"\x00" * (PAGE % 249))


def _flip_bits(project: Path, page: int) -> None:
    with open(project, "r+b") as stream:
        for offset in (0, 3, 5, 7):  # the page header: its type, cell count and first cell
            stream.seek((page - 1) * PAGE + offset)
            byte = stream.read(1)[0]
            stream.seek((page - 1) * PAGE + offset)
            stream.write(bytes([byte ^ 0xA5]))


@pytest.fixture(params=["garbage", "flipped bits"])
def damaged(request: pytest.FixtureRequest, sound_project: Path, tmp_path: Path) -> Path:
    project = _copy(sound_project, tmp_path)
    damage = _write_garbage if request.param == "garbage" else _flip_bits
    damage(project, _middle_leaf_of(project, "cells"))
    return project


def test_opening_a_damaged_project_names_the_file_the_problem_and_the_way_back(damaged: Path) -> None:
    for read_only in (False, True):
        with pytest.raises(DamagedProjectError) as caught:
            ProjectStore.open(damaged, read_only=read_only)
        message = str(caught.value)
        assert str(damaged) in message and "damaged" in message
        assert f"hemalabel recover --project {damaged}" in message and "\n" not in message
    # The lock was given back: a refused open leaves nothing held.
    assert not list(damaged.parent.glob("*.lock"))


@pytest.mark.parametrize("command", [
    ["info"], ["export", "--format", "csv", "--out", "{out}"], ["report", "--out", "{out}/r.csv"],
    ["import", "{images}"],
])
def test_every_command_on_a_damaged_project_prints_one_line_and_fails(
    command: list[str], damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "more"
    write_image(images / "new.png")
    args = [part.format(out=tmp_path / "out", images=images) for part in command]
    before = damaged.read_bytes()
    assert main([args[0], *args[1:], "--project", str(damaged)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert str(damaged) in lines[0] and "damaged" in lines[0] and "hemalabel recover" in lines[0]
    assert damaged.read_bytes() == before  # nothing written into it


def test_a_damage_met_after_opening_is_the_same_one_error(
    damaged: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As if the page went bad after the check on opening passed."""
    monkeypatch.setattr("core.store.connection.integrity_problem", lambda _connection: None)
    with ProjectStore.open(damaged, read_only=True) as store, pytest.raises(DamagedProjectError, match="damaged"):
        store.cells()
    assert main(["info", "--project", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "hemalabel recover" in err


def test_an_import_into_a_project_keeps_a_backup_first(
    sound_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy(sound_project, tmp_path)
    backup = project.with_name(project.name + ".bak")
    write_image(tmp_path / "more" / "new.png")
    assert main(["import", str(tmp_path / "more"), "--project", str(project)]) == 0
    assert f"before this import: {backup}" in capsys.readouterr().out
    with ProjectStore.open(backup, read_only=True) as kept:
        assert len(kept.slides()) == SLIDES and len(kept.cells()) == SLIDES * CELLS_PER_SLIDE
    with ProjectStore.open(project, read_only=True) as store:
        assert len(store.slides()) == SLIDES + 1
    # The next import replaces it with the project as it then was.
    write_image(tmp_path / "again" / "other.png", seed=5)
    assert main(["import", str(tmp_path / "again"), "--project", str(project), "--json"]) == 0
    assert '"backup": ' in capsys.readouterr().out
    with ProjectStore.open(backup, read_only=True) as kept:
        assert len(kept.slides()) == SLIDES + 1
    assert not list(tmp_path.glob("*.partial"))


def test_an_import_into_a_new_project_keeps_no_backup(tmp_path: Path) -> None:
    write_image(tmp_path / "slides" / "a.png")
    project = tmp_path / "new.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 0
    assert not project.with_name(project.name + ".bak").exists()


def test_recover_salvages_the_readable_rows_and_says_what_was_lost(
    damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "recovered.hemalabel"
    assert main(["recover", "--project", str(damaged), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "some of it was lost" in printed and "cells:" in printed and "lost" in printed
    with ProjectStore.open(out) as store:
        assert len(store.slides()) == SLIDES
        cells = store.cells()
        total = SLIDES * CELLS_PER_SLIDE
        assert total * 0.8 < len(cells) < total  # most came across; the damaged page's did not
        assert all(cell.label == "neutrophil" for cell in cells)
        assert store.taxonomy.names
        # New cells never take the id of one that was lost.
        added = store.add_cells(store.slides()[0].id, [NewCell(Box(1, 1, 5, 5), CellKind.RED)])
        assert added[0].id > total
    assert main(["info", "--project", str(out)]) == 0


def test_recovering_a_sound_project_copies_everything(sound_project: Path, tmp_path: Path) -> None:
    project = _copy(sound_project, tmp_path)
    report = recover_project(project, tmp_path / "copy.hemalabel")
    assert report.complete
    with ProjectStore.open(tmp_path / "copy.hemalabel", read_only=True) as copy, \
            ProjectStore.open(project, read_only=True) as original:
        assert copy.cells() == original.cells() and copy.slides() == original.slides()


def test_recover_never_writes_over_a_file(
    sound_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _copy(sound_project, tmp_path)
    assert main(["recover", "--project", str(project), "--out", str(project)]) == 2
    assert "already exists" in capsys.readouterr().err
