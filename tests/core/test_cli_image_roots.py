"""--image-root on the command line: a project whose images moved (a share
mounted elsewhere) is read from the new place for one run, and
`hemalabel info` names each missing folder once."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from app.cli.main import main
from core.image_roots import as_slashed
from core.store import ProjectStore
from tests.core.images import write_image

SLIDES = 3


@pytest.fixture
def moved(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(project, the share as stored, where it is now)."""
    share = tmp_path / "mnt" / "scans"
    project = tmp_path / "projects" / "p.hemalabel"
    with ProjectStore.create(project) as store:
        for n in range(SLIDES):
            store.add_slide(write_image(share / f"p{n}" / f"f{n}.png", seed=n), 64, 48)
    now = tmp_path / "media" / "new"
    now.parent.mkdir(parents=True)
    shutil.move(share, now)
    return project, share, now


def test_info_names_each_missing_folder_once(moved, capsys: pytest.CaptureFixture[str]) -> None:
    project, share, _ = moved
    assert main(["info", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"Images missing: {SLIDES} of {SLIDES} slides" in out
    assert out.count("not found under") == 1
    assert f"Images of {SLIDES} slides are not found under {share} (the folder is missing or not mounted)" in out
    assert main(["info", "--project", str(project), "--json"]) == 0
    (group,) = json.loads(capsys.readouterr().out)["missing_images"]
    assert (group["stored_folder"], group["slides"], group["folder_state"]) == (as_slashed(share), SLIDES, "missing")


def test_image_root_finds_the_images_for_one_run_and_changes_nothing(moved, tmp_path, capsys) -> None:
    project, share, now = moved
    before = sqlite3.connect(project).execute("SELECT path FROM slides").fetchall()
    root = f"{share}={now}"
    assert main(["info", "--project", str(project), "--image-root", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing_images"] == []
    out = tmp_path / "export"
    assert main(["export", "--project", str(project), "--format", "voc", "--out", str(out),
                 "--image-root", root]) == 0
    assert sorted(path.name for path in out.rglob("*.png")) == [f"f{n}.png" for n in range(SLIDES)]
    assert sqlite3.connect(project).execute("SELECT path FROM slides").fetchall() == before
    assert main(["info", "--project", str(project)]) == 0  # the next run without it: missing again
    assert "Images missing" in capsys.readouterr().out


def test_a_malformed_image_root_is_refused_by_name(moved, capsys: pytest.CaptureFixture[str]) -> None:
    project, _, _ = moved
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "--project", str(project), "--image-root", "/mnt/scans"])
    assert exit_info.value.code == 2
    assert "'/mnt/scans': expected OLD=NEW" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["train", "--config", "c.json"], ["train-detector"],
                                     ["detect", "--images", "d", "--out", "o.csv"],
                                     ["classify", "--images", "d", "--out", "o.csv"]])
def test_image_root_without_a_project_is_refused(command, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--image-root", "/mnt/a=/media/a"]) == 2
    assert "--image-root goes with --project" in capsys.readouterr().err
