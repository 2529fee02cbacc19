"""One writer per project: a second window or command may read a project
that is being edited, never edit it, and a crashed writer leaves it free."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from core.project_lock import is_free, lock_path_of
from core.schema import Box, CellKind
from core.store import ProjectInUseError, ProjectStore
from core.taxonomy import Taxonomy, TaxonomyClass
from tests.core.images import write_image

_HOLDER = """
import sys, time
from core.store import ProjectStore
store = ProjectStore.open(sys.argv[1], editor="the holding test process")
print("holding", flush=True)
time.sleep(120)
"""


def _project(folder: Path) -> Path:
    path = folder / "p.hemalabel"
    with ProjectStore.create(path) as store:
        store.add_slide(folder / "a.png", 100, 80)
    return path


def test_a_second_editor_is_refused_and_told_who_edits(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with ProjectStore.open(path, editor="a HemaLabel window") as first:
        with pytest.raises(ProjectInUseError) as refused:
            ProjectStore.open(path)
        message = str(refused.value)
        assert str(path) in message and "a HemaLabel window" in message
        assert f"process {os.getpid()}" in message and "open it read-only" in message
        assert refused.value.holder is not None and refused.value.holder.pid == os.getpid()
        with pytest.raises(ProjectInUseError):
            ProjectStore.open_or_create(path)
        # the refused open changed nothing the first editor relies on
        first.add_cell(first.slides()[0].id, Box(1, 1, 9, 9), CellKind.WHITE, label="monocyte")
    assert not lock_path_of(path).exists()  # released with the store, file and all
    with ProjectStore.open(path) as again:
        assert [cell.label for cell in again.cells()] == ["monocyte"]


def test_a_reader_reads_what_the_editor_has_saved(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with ProjectStore.open(path) as editor:
        cell = editor.add_cell(editor.slides()[0].id, Box(1, 1, 9, 9), CellKind.WHITE, label="monocyte")
        with ProjectStore.open(path, read_only=True) as reader:
            assert reader.cell(cell.id).label == "monocyte"
        with ProjectStore.open_to_read(path) as summary_reader:
            assert summary_reader.read_only
            assert "HemaLabel (user " in (summary_reader.edited_elsewhere_by or "")
            assert summary_reader.summary()["edited_elsewhere_by"] == summary_reader.edited_elsewhere_by
    with ProjectStore.open_to_read(path) as alone:
        assert not alone.read_only and alone.edited_elsewhere_by is None


def test_the_second_editors_undo_cannot_reach_the_firsts_edits(tmp_path: Path) -> None:
    """What the lock is for: the history lives in the file, so a second
    editor's Ctrl+Z used to reverse the first one's latest label."""
    path = _project(tmp_path)
    with ProjectStore.open(path) as first:
        cell = first.add_cell(first.slides()[0].id, Box(1, 1, 9, 9), CellKind.WHITE, label="lymphocyte")
        first.set_label([cell.id], "monocyte")
        with ProjectStore.open(path, read_only=True) as second, pytest.raises(Exception, match="read-only"):
            second.undo()
        assert first.cell(cell.id).label == "monocyte"


def test_creating_takes_the_lock_too(tmp_path: Path) -> None:
    path = tmp_path / "new.hemalabel"
    with ProjectStore.create(path):
        assert lock_path_of(path).is_file()
        with pytest.raises(ProjectInUseError):
            ProjectStore.open(path)


def test_another_process_holds_it_until_it_dies(tmp_path: Path) -> None:
    """A crash or power cut must not leave the project locked: the system
    drops the lock with its process, and the stale lock file is taken over."""
    path = _project(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(ProjectInUseError, match=f"the holding test process .*process {holder.pid}"):
            ProjectStore.open(path)
        holder.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
        holder.wait(timeout=30)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert lock_path_of(path).is_file()  # left behind by the killed process
    with ProjectStore.open(path, editor="the next window") as store:
        assert store.slides()
        assert json.loads(lock_path_of(path).read_text())["program"] == "the next window"


def test_a_lock_file_naming_nobody_is_described_as_another_program(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with ProjectStore.open(path):
        lock_path_of(path).write_text("not json")
        with pytest.raises(ProjectInUseError, match="another program"):
            ProjectStore.open(path)


def test_cli_editors_are_refused_and_readers_served(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "slides" / "a.png")
    project = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 0
    capsys.readouterr()
    with ProjectStore.open(project, editor="a HemaLabel window"):
        assert main(["import", str(tmp_path / "slides"), "--project", str(project)]) == 2
        error = capsys.readouterr().err
        assert "p.hemalabel: it is open for editing in a HemaLabel window" in error
        assert main(["detect", "--project", str(project)]) == 2
        assert "open for editing in a HemaLabel window" in capsys.readouterr().err
        assert main(["info", "--project", str(project)]) == 0
        out = capsys.readouterr().out
        assert "(read-only: open for editing in a HemaLabel window" in out and "Slides: 1" in out
    with ProjectStore.open(project, editor="hemalabel import"):
        assert main(["report", "--project", str(project), "--out", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").is_file()


def test_a_reader_learns_that_the_editor_saved_something(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with ProjectStore.open(path) as editor, ProjectStore.open(path, read_only=True) as reader:
        assert not reader.changed_elsewhere()
        editor.add_cell(editor.slides()[0].id, Box(1, 1, 9, 9), CellKind.WHITE)
        assert reader.changed_elsewhere() and not reader.changed_elsewhere()
        smudge = TaxonomyClass("smudge", "Smudge cell", "", "#123456", "other", False)
        editor.set_taxonomy(Taxonomy(editor.taxonomy.name, (*editor.taxonomy.classes, smudge)))
        assert reader.changed_elsewhere() and "smudge" in reader.taxonomy.names


def test_a_probe_sees_whether_the_lock_is_held_and_leaves_it_as_it_was(tmp_path: Path) -> None:
    path = _project(tmp_path)
    assert is_free(path)  # no lock file at all
    with ProjectStore.open(path, editor="a HemaLabel window"):
        assert not is_free(path)
        assert not is_free(path)
        assert "a HemaLabel window" in lock_path_of(path).read_text()  # the probe wrote nothing
    lock_path_of(path).write_text("{}")  # left behind by a crash
    assert is_free(path)
    with ProjectStore.open(path):
        pass


def _lock_files_not_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """As for a lock file another user left on a shared drive (root, who
    runs CI, could write it anyway)."""
    import builtins

    from core import project_lock

    real_open = builtins.open

    def open_as_another_user(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        if str(file).endswith(".lock") and "+" in mode and Path(file).exists():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(project_lock, "open", open_as_another_user, raising=False)


def test_another_users_stale_lock_file_is_cleared_and_a_held_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _project(tmp_path)
    lock_path_of(path).write_text(json.dumps({"user": "ana", "host": "lab-2", "pid": 1, "since": "x", "program": "p"}))
    _lock_files_not_writable(monkeypatch)
    with ProjectStore.open(path, editor="the next window"):  # ana's window crashed: the file was stale
        assert json.loads(lock_path_of(path).read_text())["program"] == "the next window"
        with pytest.raises(ProjectInUseError, match="the next window"):
            ProjectStore.open(path)  # held: not cleared
        assert lock_path_of(path).is_file()
