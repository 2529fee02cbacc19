"""Finding one's place among many slides: the slide list's search, filter and
sort, the slide a reopened project starts on, File > Open on a project file
without the .hemalabel suffix, and a title bar that names the project file."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_slide_image, wait_image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.cli.main import main as cli_main
from app.version import app_version
from core.schema import Box, CellKind, LabelSource, NewCell, SlideStatus
from core.store import ProjectStore

# Added in this order, on purpose not sorted by name: "slide_2" sorts before
# "slide_10" the way a file manager sorts them.
NAMES = ["slide_10.png", "slide_2.png", "slide_1.png", "ward_b.png", "slide_3.png"]


@pytest.fixture
def ward_project(tmp_path: Path) -> Path:
    """Five slides: slide_2 signed off, slide_1 in review with two white cells
    nobody reviewed, ward_b with one Unidentified white cell (so one to
    review), slide_3 with one white cell to review (both proposed by the
    model), slide_10 new."""
    folder = tmp_path / "ward"
    path = folder / "ward.hemalabel"
    with ProjectStore.create(path) as store:
        ids = {}
        for n, name in enumerate(NAMES):
            ids[name] = store.add_slide(make_slide_image(folder / name, seed=n), 320, 240).id

        def white(label: str | None, reviewed: bool = False) -> NewCell:
            return NewCell(Box(10, 10, 40, 40), CellKind.WHITE, label=label, reviewed=reviewed,
                           source=LabelSource.MODEL)

        store.add_cells(ids["slide_1.png"], [white("neutrophil"), white("lymphocyte")])
        store.add_cells(ids["ward_b.png"], [white(None)])
        store.add_cells(ids["slide_3.png"], [white("monocyte")])
        store.update_slide_attributes(ids["ward_b.png"], comment="sample 4471, ward B")
        store.set_slide_status(ids["slide_2.png"], SlideStatus.SIGNED_OFF)
        store.set_slide_status(ids["slide_1.png"], SlideStatus.IN_REVIEW)
    return path


def listed(window) -> list[str]:
    return [
        Path(slide.path).name
        for slide in (window.browser.shown.slide_at(r) for r in range(window.browser.shown.rowCount()))
    ]


def choose(combo, key: str) -> None:
    combo.setCurrentIndex(combo.findData(key))


def test_the_slide_list_filters_and_sorts_by_the_counts_the_panel_uses(qtbot, open_window, ward_project):
    window, controller = open_window(ward_project)
    browser = window.browser
    assert listed(window) == NAMES and controller.slide.path.endswith("slide_10.png")

    choose(browser.sort_combo, "name")
    assert listed(window) == ["slide_1.png", "slide_2.png", "slide_3.png", "slide_10.png", "ward_b.png"]
    choose(browser.sort_combo, "status")  # new, proposed, in review, signed off
    assert listed(window) == ["slide_10.png", "slide_3.png", "ward_b.png", "slide_1.png", "slide_2.png"]
    choose(browser.sort_combo, "to_review")  # white cells awaiting review, most first
    assert listed(window)[:3] == ["slide_1.png", "ward_b.png", "slide_3.png"]

    choose(browser.sort_combo, "name")
    choose(browser.filter_combo, "unsigned")
    assert listed(window) == ["slide_1.png", "slide_3.png", "slide_10.png", "ward_b.png"]
    assert "4 of 5" in browser.title.text()
    choose(browser.filter_combo, "in_review")  # slide_10 is on show: it stays listed
    assert listed(window) == ["slide_1.png", "slide_10.png"]
    choose(browser.filter_combo, "signed_off")
    assert listed(window) == ["slide_2.png", "slide_10.png"]
    choose(browser.filter_combo, "unidentified")
    assert listed(window) == ["slide_10.png", "ward_b.png"]

    # PageDown goes through the slides listed, then the slide left drops out.
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)
    assert controller.slide.path.endswith("ward_b.png")
    assert listed(window) == ["ward_b.png"]
    assert browser.list.currentIndex().row() == 0
    # Resolving its Unidentified cell keeps it listed while on show.
    (cell,) = controller.session.store.cells(controller.slide.id)
    controller.session.store.set_label([cell.id], "neutrophil")
    qtbot.waitUntil(lambda: window.slide_model.counts(controller.slide.id).unidentified == 0)
    assert listed(window) == ["ward_b.png"] and browser.list.currentIndex().row() == 0


def test_ctrl_f_finds_a_slide_by_name_or_text_and_enter_reviews_it(qtbot, open_window, ward_project):
    window, controller = open_window(ward_project)
    wait_image(qtbot, controller)
    browser = window.browser
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is browser.search
    qtbot.keyClicks(browser.search, "4471")  # in ward_b's comment
    assert listed(window) == ["slide_10.png", "ward_b.png"]  # the slide on show, and the one found
    qtbot.keyClick(browser.search, Qt.Key.Key_Return)
    assert controller.slide.path.endswith("ward_b.png")
    assert QApplication.focusWidget() is window.view  # the keys go to its review
    assert listed(window) == ["ward_b.png"]

    browser.focus_search()
    qtbot.keyClicks(browser.search, "slide")  # typed over the selected text
    assert browser.search.text() == "slide"
    qtbot.keyClick(browser.search, Qt.Key.Key_Down)  # the arrows move through the list from the field
    assert QApplication.focusWidget() is browser.search
    assert controller.slide.path.endswith(listed(window)[browser.list.currentIndex().row()])
    qtbot.keyClick(browser.search, Qt.Key.Key_Escape)
    assert browser.search.text() == "" and len(listed(window)) == len(NAMES)

    # Alt+O and Alt+T reach the Show and Sort lists from the review view.
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_O, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is browser.filter_combo
    qtbot.keyClick(browser.filter_combo, Qt.Key.Key_Down)
    assert browser.filter_combo.currentData() == "unsigned" and "slide_2.png" not in listed(window)
    qtbot.keyClick(browser.filter_combo, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    assert QApplication.focusWidget() is browser.sort_combo
    qtbot.keyClick(browser.sort_combo, Qt.Key.Key_Down)
    assert browser.sort_combo.currentData() == "name" and listed(window)[0] == "slide_1.png"


def test_a_reopened_project_starts_on_the_slide_left(qtbot, open_window, ward_project, review_project):
    window, controller = open_window(ward_project)
    controller.step_slide(1)
    controller.step_slide(1)
    left = controller.slide
    assert left.path.endswith("slide_1.png")
    controller.open_project(review_project)  # another project: each remembers its own
    assert controller.slide.path.endswith("slide0.png")
    window.close()

    again, reopened = open_window(ward_project)
    assert reopened.slide.id == left.id
    assert again.browser.list.currentIndex().row() == again.browser.shown.row_of(left.id)
    reopened.open_project(review_project)
    assert reopened.slide.path.endswith("slide0.png")


def test_file_open_opens_a_project_the_cli_made_without_the_suffix(qtbot, open_window, tmp_path, monkeypatch):
    images = tmp_path / "images"
    for n in range(2):
        make_slide_image(images / f"field_{n}.png", seed=n)
    project = tmp_path / "ward7"  # no .hemalabel: the command line takes the name as given
    assert cli_main(["import", str(images), "--project", str(project)]) == 0
    asked: list[str] = []

    def pick(_parent, _title, _folder, filters):
        asked.append(filters)
        return str(project), "All files (*)"

    monkeypatch.setattr(QFileDialog, "getOpenFileName", pick)
    window, controller = open_window()
    window.actions["open_project"].trigger()
    assert asked == ["HemaLabel projects (*.hemalabel);;All files (*)"]
    assert controller.session is not None and controller.session.store.path == project
    assert window.windowTitle() == f"ward7 \u2014 field_0.png \u2014 HemaLabel {app_version()}"


@pytest.mark.parametrize("name, words", [("notes.txt", "not a HemaLabel project"), ("field.png", "slide image")])
def test_file_open_on_a_file_that_is_no_project_says_so(qtbot, open_window, tmp_path, monkeypatch, name, words):
    chosen = tmp_path / name
    if chosen.suffix == ".png":
        make_slide_image(chosen)
    else:
        chosen.write_text("shopping list")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(chosen), "All files (*)"))
    window, controller = open_window()
    before = chosen.read_bytes()
    window.actions["open_project"].trigger()
    assert controller.session is None
    assert chosen.read_bytes() == before  # the file chosen by mistake is left as it was
    (alert,) = [box for box in window.findChildren(QMessageBox) if box.windowTitle() == "Cannot open project"]
    assert words in alert.text() and name in alert.text()
    alert.close()


def test_file_open_on_a_damaged_project_names_it_the_problem_and_the_recover_command(
    qtbot, open_window, tmp_path, monkeypatch
):
    images = tmp_path / "images"
    for n in range(2):
        make_slide_image(images / f"field_{n}.png", seed=n)
    project = tmp_path / "ward.hemalabel"
    assert cli_main(["import", str(images), "--project", str(project)]) == 0
    with open(project, "r+b") as stream:  # garbage over the second page (the project's settings)
        stream.seek(4096)
        stream.write(b"\xab" * 4096)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (str(project), "All files (*)"))
    window, controller = open_window()
    window.actions["open_project"].trigger()
    assert controller.session is None
    (alert,) = [box for box in window.findChildren(QMessageBox) if box.windowTitle() == "Cannot open project"]
    assert str(project) in alert.text() and "damaged" in alert.text()
    assert f"hemalabel recover --project {project}" in alert.text()
    alert.close()
