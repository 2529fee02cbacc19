"""File > Open Lab Project…: the address of a project on the lab's
PostgreSQL server.  The password is never asked for here: libpq reads it
from the user's own password file or service file, so it is never kept in
the project, the settings or a log."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.store.address import AddressError, parse_server_address

PLACEHOLDER = "postgresql://user@server/database   or   postgresql:///?service=lab"
PASSWORD_HINT = (
    "No password here: PostgreSQL reads yours from your password file (~/.pgpass; on Windows "
    "%APPDATA%\\postgresql\\pgpass.conf) or from a service file your administrator set up."
)


class LabProjectDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, address: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open Lab Project")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        intro = QLabel("The address of the lab's project on its PostgreSQL server, as your administrator gave it.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.address = QLineEdit(address)
        self.address.setPlaceholderText(PLACEHOLDER)
        self.address.setAccessibleName("Server address")
        layout.addWidget(self.address)
        hint = QLabel(PASSWORD_HINT)
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        layout.addWidget(hint)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #b00020")
        self.problem.hide()
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.address.textChanged.connect(lambda _text: self.problem.hide())

    def chosen_address(self) -> str:
        return self.address.text().strip()

    def _accept_if_valid(self) -> None:
        try:
            parse_server_address(self.chosen_address())
        except AddressError as error:
            self.problem.setText(str(error))
            self.problem.show()
            self.address.setFocus()
            return
        self.accept()


def ask_lab_project(parent: QWidget | None, address: str = "") -> str | None:
    """The address chosen, or None when the technician cancelled."""
    dialog = LabProjectDialog(parent, address)
    return dialog.chosen_address() if dialog.exec() == QDialog.DialogCode.Accepted else None
