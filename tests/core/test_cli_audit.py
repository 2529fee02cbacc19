"""hemalabel audit: the trail printed, filtered, as JSON and as CSV."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.cli.main import main
from core.identity import Identity
from core.schema import Box, CellKind
from core.store import ProjectStore
from tests.core.images import write_image


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.hemalabel"
    with ProjectStore.create(path, identity=Identity("AB", "bench-1")) as store:
        first = store.add_slide(write_image(tmp_path / "img" / "a.png"), 64, 48)
        second = store.add_slide(write_image(tmp_path / "img" / "b.png"), 64, 48)
        cell = store.add_cell(first.id, Box(1, 1, 9, 9), CellKind.WHITE, "monocyte")
        store.identity = Identity("CD", "bench-2")
        store.set_label([cell.id], "basophil")
        store.add_cell(second.id, Box(2, 2, 9, 9), CellKind.WHITE, "eosinophil")
        store.sign_off(first.id, "CD", target=1)
    return path


def test_the_trail_is_printed_in_words(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--project", str(project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and lines[-1] == "6 entries"
    for words in ("AB on bench-1  a  slide  Added slide: image img/a.png",
                  "AB on bench-1  a  cell 1  Draw box: added white cell, Monocyte at 1,1 to 9,9",
                  "CD on bench-2  a  cell 1  Set class: class Monocyte -> Basophil",
                  "CD on bench-2  a  slide  Signed off"):
        assert sum(words in line for line in lines) == 1, words


def test_the_filters_and_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--project", str(project), "--slide", "b.png", "--json"]) == 0
    added, entry = json.loads(capsys.readouterr().out)
    assert (added["user"], added["action"]) == ("AB", "Added slide")
    assert (entry["user"], entry["workstation"], entry["slide"], entry["undone"]) == ("CD", "bench-2", "b", False)
    assert main(["audit", "-p", str(project), "--user", "AB", "--json"]) == 0
    assert [e["action"] for e in json.loads(capsys.readouterr().out)] == ["Added slide", "Added slide", "Draw box"]
    assert main(["audit", "-p", str(project), "--cell", "1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert main(["audit", "-p", str(project), "--since", tomorrow, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_csv_is_written(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trail.csv"
    assert main(["audit", "-p", str(project), "--until", date.today().isoformat(), "--csv", str(out)]) == 0
    assert f"Audit trail of 6 entries written to {out}" in capsys.readouterr().out
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:3] == ["time_utc", "user", "workstation"] and len(rows) == 7


def test_what_cannot_be_done_is_one_line_naming_the_problem(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "-p", str(project), "--slide", "z.png"]) == 2
    assert f"{project}: no slide named 'z.png'" in capsys.readouterr().err
    assert main(["audit", "-p", str(project), "--csv", str(tmp_path / "t.txt")]) == 2
    assert "t.txt: the audit trail is written as a .csv file" in capsys.readouterr().err
    assert main(["audit", "-p", str(project), "--since", "2026-02-02", "--until", "2026-02-01"]) == 2
    assert "dates run backwards" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "-p", str(project), "--since", "yesterday"])
    assert "expected a date as YYYY-MM-DD, got 'yesterday'" in capsys.readouterr().err
