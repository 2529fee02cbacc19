"""A project whose image folder moved (a share mounted elsewhere, the
project taken to another workstation): one banner for the folder, not one
error per slide; Map Folder…, Locate and File › Image Folders… say where it
is now, kept in the user's settings, never in the project."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import make_slide_image, wait_image
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.gui import image_folders
from app.gui.settings import AppSettings
from core.image_roots import as_slashed
from core.store import ProjectStore

SLIDES = 4


@pytest.fixture
def moved_share(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A project whose images were on a share, now moved: (project, old share, new place)."""
    share = tmp_path / "mnt" / "lab" / "scans"
    project = tmp_path / "projects" / "ward.hemalabel"
    with ProjectStore.create(project) as store:
        for n in range(SLIDES):
            image = make_slide_image(share / f"patient{n % 2}" / f"field_{n}.png", seed=n)
            store.add_slide(image, 320, 240)
    moved = tmp_path / "media" / "new"
    moved.parent.mkdir(parents=True)
    shutil.move(share, moved)
    return project, share, moved


def _stored_paths(project: Path) -> list[tuple[str]]:
    connection = sqlite3.connect(project)
    try:
        return connection.execute("SELECT path FROM slides ORDER BY id").fetchall()
    finally:
        connection.close()


def _saved_roots(project: Path) -> dict[str, str]:
    with ProjectStore.open(project, read_only=True) as reader:
        return AppSettings().image_roots(reader.path, reader.project_id)


def test_a_moved_folder_is_one_banner_and_mapping_it_loads_the_slides(qtbot, open_window, moved_share, monkeypatch):
    project, share, moved = moved_share
    before = _stored_paths(project)
    window, controller = open_window(project)
    banner = window.folders_banner
    assert banner.isVisible()
    assert f"Images of {SLIDES} slides are not found under {share} (the folder is missing or not mounted)" in (
        banner.label.text())
    wait_image(qtbot, controller, "missing")
    assert not window.image_banner.isVisible()  # the folder's banner speaks for the slide on show
    assert not [box for box in window.findChildren(QMessageBox) if box.isVisible()]

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(moved))
    banner.button.click()
    assert not banner.isVisible()
    wait_image(qtbot, controller)
    assert all(controller.session.reader.image_path(slide).is_file() for slide in controller.session.reader.slides())
    assert _saved_roots(project) == {as_slashed(share): as_slashed(moved)}
    assert _stored_paths(project) == before  # the project is not changed
    window.close()

    window, controller = open_window(project)  # kept for this user and project
    assert not window.folders_banner.isVisible()
    wait_image(qtbot, controller)
    window.close()

    # Kept under the project's id, not its path: the project moved keeps them.
    moved_project = project.parent.parent / "archive" / project.name
    moved_project.parent.mkdir()
    shutil.move(project, moved_project)
    window, controller = open_window(moved_project)
    assert not window.folders_banner.isVisible()
    wait_image(qtbot, controller)


def test_a_mapping_kept_under_the_projects_path_moves_to_its_id(qtbot, open_window, moved_share):
    project, share, moved = moved_share
    with ProjectStore.open(project, read_only=True) as reader:
        project_id = reader.project_id
    assert project_id is not None
    # As saved before projects had ids: under a digest of the project's path.
    AppSettings().set_image_roots(project, None, {as_slashed(share): as_slashed(moved)})
    window, controller = open_window(project)
    assert not window.folders_banner.isVisible()
    wait_image(qtbot, controller)
    window.close()
    assert AppSettings().image_roots(project.parent / "elsewhere.hemalabel", project_id) == {
        as_slashed(share): as_slashed(moved)}
    assert AppSettings().image_roots(project, None) == {}  # moved, not copied


def test_a_folder_holding_none_of_the_slides_is_refused(qtbot, open_window, moved_share, tmp_path, monkeypatch):
    project, _, _ = moved_share
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    window, controller = open_window(project)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(wrong))
    window.folders_banner.button.click()
    (alert,) = [box for box in window.findChildren(QMessageBox) if box.windowTitle() == "Folder not mapped"]
    assert str(wrong) in alert.text() and f"none of the {SLIDES} slides" in alert.text()
    alert.close()
    assert window.folders_banner.isVisible()
    assert _saved_roots(project) == {}


def test_locate_offers_to_map_the_whole_folder(qtbot, open_window, moved_share, monkeypatch):
    project, share, moved = moved_share
    before = _stored_paths(project)
    window, controller = open_window(project)
    wait_image(qtbot, controller, "missing")
    located = moved / Path(controller.slide.path).parent.name / Path(controller.slide.path).name
    asked: list[str] = []

    def answer(_parent, _title, text, go, stay, name=""):
        asked.append(text)
        return True

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(located), ""))
    monkeypatch.setattr(image_folders, "ask_before", answer)
    window.actions["locate_image"].trigger()
    assert len(asked) == 1 and f"{SLIDES} slides of {SLIDES} found under {as_slashed(moved)}" in asked[0]
    wait_image(qtbot, controller)
    assert not window.folders_banner.isVisible()
    assert _stored_paths(project) == before

    # File › Image Folders… lists the mapping; removing it brings the banner back.
    dialogs: list[image_folders.ImageFoldersDialog] = []
    monkeypatch.setattr(image_folders.ImageFoldersDialog, "exec", lambda dialog: dialogs.append(dialog) or 0)
    window.actions["image_folders"].trigger()
    (dialog,) = dialogs
    assert dialog.list.item(0).text() == f"{as_slashed(share)}  \u2192  {as_slashed(moved)}"
    dialog.remove_button.click()
    assert _saved_roots(project) == {}
    assert window.folders_banner.isVisible()
    assert not dialog.remove_button.isEnabled()
    wait_image(qtbot, controller, "missing")


def test_locate_of_an_image_alone_in_its_folder_relocates_only_that_slide(qtbot, open_window, tmp_path, monkeypatch):
    images = tmp_path / "images"
    project = tmp_path / "p.hemalabel"
    with ProjectStore.create(project) as store:
        store.add_slide(make_slide_image(images / "a.png"), 320, 240)
    elsewhere = tmp_path / "elsewhere" / "a.png"
    elsewhere.parent.mkdir()
    shutil.move(images / "a.png", elsewhere)
    window, controller = open_window(project)
    wait_image(qtbot, controller, "missing")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(elsewhere), ""))
    monkeypatch.setattr(image_folders, "ask_before", lambda *args: pytest.fail("one slide: nothing to map"))
    window.actions["locate_image"].trigger()
    wait_image(qtbot, controller)
    assert _stored_paths(project) == [("elsewhere/a.png",)]
    assert _saved_roots(project) == {}
