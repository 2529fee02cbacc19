"""--user INITIALS: a command's edits recorded in the audit trail under the
initials given, else under the system login, as the window records its own."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from app.cli.main import main
from core.identity import MAX_INITIALS, system_login
from core.inference import Detection
from core.schema import Box, CellKind
from core.store import ProjectStore
from tests.core.images import write_image


class _OneCellDetector:
    version = "fake-detector"

    def detect(self, image: object) -> list[Detection]:
        return [Detection(Box(4, 4, 20, 20), CellKind.RED, 0.9)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import core.detection.detector

    monkeypatch.setattr(core.detection.detector.KerasCellDetector, "load", lambda *_args: _OneCellDetector())
    write_image(tmp_path / "slides" / "a.png")
    path = tmp_path / "p.hemalabel"
    assert main(["import", str(tmp_path / "slides"), "--project", str(path)]) == 0
    return path


def _last_edit(project: Path) -> tuple[str, str, str]:
    with ProjectStore.open(project, read_only=True) as store:
        entry = store.trail()[-1]
    return entry.action, entry.user or "", entry.workstation or ""


def test_detect_records_its_edits_under_the_initials_given(project: Path) -> None:
    assert main(["detect", "--project", str(project), "--user", " JD "]) == 0
    assert _last_edit(project) == ("Detect cells", "JD", socket.gethostname())
    assert main(["detect", "--project", str(project)]) == 0
    assert _last_edit(project) == ("Detect cells", system_login(), socket.gethostname())


@pytest.mark.parametrize("command", [["detect", "--images", "d", "--out", "o.csv"],
                                     ["classify", "--images", "d", "--out", "o.csv"]])
def test_user_without_a_project_is_refused(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--user", "JD"]) == 2
    assert "--user goes with --project" in capsys.readouterr().err


@pytest.mark.parametrize("initials", ["  ", "X" * (MAX_INITIALS + 1)])
def test_blank_or_overlong_initials_are_refused_by_name(project: Path, initials: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", "--project", str(project), "--user", initials])
    assert exit_info.value.code == 2
    assert f"--user: expected initials of 1 to {MAX_INITIALS} characters, got {initials!r}" in capsys.readouterr().err


def test_import_records_who_added_each_image(project: Path, tmp_path: Path) -> None:
    write_image(tmp_path / "more" / "b.png")
    assert main(["import", str(tmp_path / "more"), "--project", str(project), "--user", "KL"]) == 0
    assert _last_edit(project) == ("add_slide", "KL", socket.gethostname())
