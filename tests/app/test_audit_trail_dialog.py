"""File > Audit Trail…: the window records edits under the technician's
initials, the dialog shows them with their slide, cell and change, filters
them, exports them as CSV, and takes other initials from then on."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

from PySide6.QtWidgets import QMenu

from app.gui.dialogs.audit_trail_dialog import COLUMNS, AuditTrailDialog, cell_text
from app.gui.settings import app_qsettings
from app.gui.user_identity import SETTINGS_INITIALS


def _rows(qtbot, dialog: AuditTrailDialog) -> list[dict[str, str]]:  # noqa: ANN001
    """The rows shown once the read the filters asked for has arrived (the
    dialog reads off the GUI thread)."""
    qtbot.waitUntil(lambda: not dialog.reading, timeout=10_000)
    return [{name: cell_text(entry, column) for column, name in enumerate(COLUMNS)} for entry in dialog.model.entries]


def _open_trail(qtbot, window, controller) -> AuditTrailDialog:
    file_menu = next(menu for menu in window.menuBar().findChildren(QMenu) if menu.title() == "&File")
    assert window.actions["audit_trail"] in file_menu.actions()
    assert window.actions["audit_trail"].isEnabled()
    window.actions["audit_trail"].trigger()
    dialog = controller.data.active_dialog
    assert isinstance(dialog, AuditTrailDialog)
    qtbot.waitExposed(dialog)
    return dialog


def test_the_trail_shows_filters_and_exports_who_changed_what(qtbot, open_window, review_project: Path,
                                                               tmp_path: Path) -> None:
    app_qsettings().setValue(SETTINGS_INITIALS, "AB")
    window, controller = open_window(review_project)
    store = controller.session.store
    (first, second) = [cell.id for cell in store.cells(1)][:2]
    store.set_label([first], "basophil")
    store.set_label([second], "eosinophil")
    store.undo()
    dialog = _open_trail(qtbot, window, controller)
    relabel, undone = _rows(qtbot, dialog)[-2:]
    assert (relabel["User"], relabel["Workstation"], relabel["Cell"], relabel["Action"]) == (
        "AB", socket.gethostname(), str(first), "Set class")
    assert relabel["Change"].startswith("class Neutrophil -> Basophil") and relabel["Undone"] == ""
    assert undone["Undone"].startswith("undone by AB on ")

    dialog.user_combo.setCurrentIndex(dialog.user_combo.findData("AB"))
    assert [row["Cell"] for row in _rows(qtbot, dialog)] == [str(first), str(second)]
    dialog.cell_spin.setValue(second)
    assert dialog.reading  # read on a worker: the answer comes through the event loop, never on the spot
    assert [row["Action"] for row in _rows(qtbot, dialog)] == ["Set class"]
    assert dialog.status.text().startswith("1 entry shown")
    dialog.since_check.setChecked(True)
    dialog.until_check.setChecked(True)
    dialog.until_edit.setDate(dialog.since_edit.date().addDays(-1))
    assert _rows(qtbot, dialog) == [] and "run backwards" in dialog.status.text()
    assert not dialog.export_button.isEnabled()
    dialog.until_check.setChecked(False)
    assert len(_rows(qtbot, dialog)) == 1 and dialog.export_button.isEnabled()

    written = dialog.export_to(tmp_path / "trail.csv")
    assert written is not None and str(written) in dialog.status.text()
    rows = list(csv.DictReader(written.read_text(encoding="utf-8-sig").splitlines()))
    assert [(row["user"], row["cell"], row["undone"][:9]) for row in rows] == [("AB", str(second), "undone by")]
    assert dialog.export_to(tmp_path / "missing" / "trail.csv") is None
    assert "The audit trail was not written" in dialog.status.text()


def test_initials_set_in_the_dialog_record_the_next_edits_and_are_kept(qtbot, open_window,
                                                                        review_project: Path) -> None:
    window, controller = open_window(review_project)
    dialog = _open_trail(qtbot, window, controller)
    assert "Your edits are recorded as " in dialog.recorded_as.text()
    dialog.initials_edit.setText(" CD ")
    dialog.apply_initials_button.click()
    assert dialog.recorded_as.text() == f"Your edits are recorded as CD on {socket.gethostname()}."
    assert app_qsettings().value(SETTINGS_INITIALS) == "CD"
    dialog.reject()
    store = controller.session.store
    cell = store.cells(1)[0].id
    store.set_label([cell], "basophil")
    dialog = _open_trail(qtbot, window, controller)
    assert _rows(qtbot, dialog)[-1]["User"] == "CD"
    assert dialog.user_combo.findData("CD") >= 0


def test_the_initials_signed_with_record_the_edits_that_follow(qtbot, review_store) -> None:
    from app.gui.dialogs.signoff_dialog import SignOffDialog

    review_store.confirm([cell.id for cell in review_store.cells(2)])
    review_store.sign_off(2, "XY", target=1)
    dialog = SignOffDialog(None, review_store, 2)
    qtbot.addWidget(dialog)
    dialog.initials_edit.setText("JD")
    dialog.reason_edit.setText("recount")
    dialog._accept()
    assert review_store.slide(2).signed_off_by is None
    assert review_store.identity.user == "JD" and app_qsettings().value(SETTINGS_INITIALS) == "JD"
    review_store.confirm([review_store.cells(2)[0].id])
    assert review_store.trail()[-1].user == "JD"


def test_the_open_trail_follows_the_edits_made_meanwhile(qtbot, open_window, review_project: Path) -> None:
    app_qsettings().setValue(SETTINGS_INITIALS, "AB")
    window, controller = open_window(review_project)
    dialog = _open_trail(qtbot, window, controller)
    before = len(_rows(qtbot, dialog))
    store = controller.session.store
    cell = store.cells(1)[0].id
    store.set_label([cell], "basophil")
    qtbot.waitUntil(lambda: len(dialog.model.entries) == before + 1, timeout=10_000)
    assert (_rows(qtbot, dialog)[-1]["Cell"], _rows(qtbot, dialog)[-1]["User"]) == (str(cell), "AB")

    # An undo and edits under other initials are shown too, and the new name is offered as a filter.
    store.undo()
    qtbot.waitUntil(lambda: bool(dialog.model.entries) and dialog.model.entries[-1].undone_text != "",
                    timeout=10_000)
    dialog.initials_edit.setText("EF")
    dialog.apply_initials_button.click()
    assert dialog.user_combo.findData("EF") < 0
    store.set_label([cell], "eosinophil")
    qtbot.waitUntil(lambda: dialog.user_combo.findData("EF") >= 0, timeout=10_000)
    assert _rows(qtbot, dialog)[-1]["User"] == "EF"

    added = store.add_slide(review_project.parent / "later.png", 320, 240)
    assert dialog.slide_combo.findData(added.id) >= 0  # a slide imported meanwhile can be chosen
