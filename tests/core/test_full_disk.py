"""Writing on a disk that fills up: the error names the file that could not
be written, no temporary file is left, the files written before it are
whole, and the command line says so in one line instead of a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.cli.main import main
from core.exporting import ExportOptions, ExportStoppedError, export_dataset
from core.formats.common import MANIFEST_NAME, atomic_write_bytes
from core.jobs import run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from tests.core.images import write_image


class _FullDisk:
    """Lets `room` bytes be written through atomic writes, then fails as a
    full disk does: on write, with no file named."""

    def __init__(self, room: int) -> None:
        self.room = room
        self._fdopen = os.fdopen

    def fdopen(self, handle: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        stream = self._fdopen(handle, mode, *args, **kwargs)
        disk = self

        class Stream:
            def __enter__(self) -> Stream:
                return self

            def __exit__(self, *exc: object) -> None:
                stream.close()

            def write(self, data: bytes) -> int:
                if len(data) > disk.room:
                    raise OSError(errno.ENOSPC, "No space left on device")
                disk.room -= len(data)
                return stream.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(stream, name)

        return Stream()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    def fill(room: int) -> _FullDisk:
        disk = _FullDisk(room)
        monkeypatch.setattr(os, "fdopen", disk.fdopen)  # the os that core.formats.common writes through
        return disk

    return fill


def _project(folder: Path) -> Path:
    path = folder / "p.hemalabel"
    with ProjectStore.create(path) as store:
        for n in range(3):
            slide = store.add_slide(write_image(folder / "img" / f"s{n}.png", 64, 48, seed=n), 64, 48)
            store.add_cells(slide.id, [NewCell(Box(2 + 10 * i, 2, 20 + 10 * i, 20), CellKind.WHITE, label="monocyte",
                                               source=LabelSource.HUMAN, reviewed=True) for i in range(3)])
    return path


def test_a_write_that_finds_the_disk_full_names_its_file_and_leaves_nothing(tmp_path: Path, full_disk) -> None:
    full_disk(room=10)
    target = tmp_path / "out" / "a.xml"
    with pytest.raises(OSError) as failed:
        atomic_write_bytes(target, b"<annotation>too long for the room left</annotation>")
    assert failed.value.errno == errno.ENOSPC and failed.value.filename == str(target)
    assert list((tmp_path / "out").iterdir()) == []  # neither the file nor its temporary


def test_an_export_that_fills_the_disk_stops_with_whole_files_and_says_so(tmp_path: Path, full_disk) -> None:
    project = _project(tmp_path)
    out = tmp_path / "exported"
    full_disk(room=1200)  # a few crops fit (each is a few hundred bytes)
    with ProjectStore.open(project, read_only=True) as store, pytest.raises(ExportStoppedError) as stopped:
        run_job(export_dataset(store, out, ExportOptions(format="crops")))
    message = str(stopped.value)
    assert message.startswith(f"{out}: the export stopped at {out}") and "No space left on device" in message
    assert "incomplete" in message and MANIFEST_NAME in message
    written = [path for path in out.rglob("*") if path.is_file()]
    assert written and not (out / MANIFEST_NAME).exists()
    assert all(path.suffix == ".png" for path in written)  # no temporaries
    for path in written:
        with Image.open(path) as crop:
            crop.load()  # whole


def test_the_command_line_reports_a_full_disk_in_one_line(tmp_path: Path, full_disk, capsys) -> None:  # noqa: ANN001
    project = _project(tmp_path)
    capsys.readouterr()
    full_disk(room=1200)
    assert main(["export", "--project", str(project), "--format", "crops", "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("hemalabel: error: ") and "the export stopped at" in error and "\n" not in error
    full_disk(room=10)
    assert main(["report", "--project", str(project), "--out", str(tmp_path / "r.csv")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"hemalabel: error: {tmp_path / 'r.csv'}: ") and "No space left on device" in error
    assert not (tmp_path / "r.csv").exists()


def test_a_project_on_a_full_disk_says_the_disk_not_the_file_is_at_fault(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import sqlite3

    from core import project_lock
    from core.store import ProjectInUseError, StoreError, connection

    path = _project(tmp_path)
    real_connect = connection.connect

    def no_room(target: Path, read_only: bool) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")  # SQLite cannot make its WAL index

    monkeypatch.setattr(connection, "connect", no_room)
    with pytest.raises(StoreError) as refused:
        ProjectStore.open(path)
    assert "cannot open the project (disk I/O error)" in str(refused.value)
    assert "not a HemaLabel project" not in str(refused.value) and "free space" in str(refused.value)
    assert not project_lock.lock_path_of(path).exists()  # the lock went with the failed open
    monkeypatch.setattr(connection, "connect", real_connect)

    def holder_cannot_be_written(stream: object, program: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(project_lock, "_write_holder", holder_cannot_be_written)
    with ProjectStore.open(path), pytest.raises(ProjectInUseError, match="another program"):
        ProjectStore.open(path)  # the lock holds all the same
