"""A project on the lab's PostgreSQL server, opened from the window: File ›
Open Lab Project…, the recent projects, the title; an address that holds
a password is refused in the dialog, and a server that is not there is one
message naming the address."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_server_project
from PySide6.QtWidgets import QDialog

from app.gui import main_controller as main_controller_module
from app.gui.dialogs.lab_project_dialog import LabProjectDialog


def test_a_server_project_opens_from_the_file_menu_and_is_remembered(
    qtbot, open_window, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_server_project(postgres_url, tmp_path)
    window, controller = open_window()
    monkeypatch.setattr(main_controller_module, "ask_lab_project", lambda parent, address: postgres_url)
    window.actions["open_lab_project"].trigger()
    qtbot.waitUntil(lambda: not controller.image_folders.checking)
    assert controller.session is not None and str(controller.session.store.path) == postgres_url
    database = postgres_url.rpartition("/")[2]
    assert database in window.windowTitle()
    assert window.slide_model.rowCount() == 2
    assert controller.settings.recent_projects()[0] == postgres_url
    assert [action.text() for action in window.recent_menu.actions()][0] == postgres_url
    # Opened again from the recent menu: already open here, nothing reopened.
    session = controller.session
    window.recent_menu.actions()[0].trigger()
    assert controller.session is session
    assert "already open in this window" in window.statusBar().currentMessage()


def test_the_dialog_refuses_an_address_with_a_password_and_never_shows_it(qtbot) -> None:
    dialog = LabProjectDialog(None, "postgresql://lab:s3cret@db/haematology")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog._accept_if_valid()
    assert dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.problem.isVisible() and "s3cret" not in dialog.problem.text()
    assert "password file" in dialog.problem.text() or "pgpass" in dialog.problem.text()
    dialog.address.setText("postgresql://lab@db/haematology")
    assert not dialog.problem.isVisible()
    dialog._accept_if_valid()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_a_server_that_is_not_there_is_one_message_naming_the_address(open_window, monkeypatch) -> None:
    window, controller = open_window()
    alerts: list[tuple[str, str]] = []
    monkeypatch.setattr(controller, "_alert", lambda title, text: alerts.append((title, text)))
    address = "postgresql://lab@127.0.0.1:1/haematology"
    assert not controller.open_project(address)
    assert controller.session is None
    assert len(alerts) == 1 and address in alerts[0][1] and "cannot connect" in alerts[0][1]
