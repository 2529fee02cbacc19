"""A project that another window or command is editing (core/project_lock.py):
the offer to open it read-only, the banner that says who edits it, and,
once they have closed it, the offer to edit it here.

Layout-free: it shows a message box and fills the window's read-only
banner; the main controller opens and closes projects for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from app.gui.banner import Banner
from core.project_lock import is_free
from core.store import ProjectInUseError, ProjectStore, resolve_project_path

FREE_CHECK_INTERVAL_MS = 3000  # how often a read-only window asks whether the other editor has gone


class EditedElsewhere(QObject):
    def __init__(
        self,
        parent: QWidget,
        banner: Banner,
        open_project: Callable[[Path, bool | None], bool],
        close_project: Callable[[], None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._banner = banner
        self._open_project = open_project
        self._close_project = close_project
        self._opening: tuple[Path, str] | None = None  # (project, who edits it) while opening it read-only
        self._following: Path | None = None  # the project open here read-only while another edits it
        self._timer = QTimer(self)
        self._timer.setInterval(FREE_CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self._check_free)
        banner.button.clicked.connect(self._edit_here)

    def offer(self, source: Path, error: ProjectInUseError) -> None:
        """Say who edits the project and offer to open it for reading (the
        window does not wait on the answer)."""
        who = error.holder.describe() if error.holder else "another program"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Project open elsewhere",
            f"{resolve_project_path(source)} is open for editing in {who}.\n\n"
            "Two windows editing one project would undo each other's work, so only one may edit it. "
            "Close it there to edit it here, or open it here read-only.",
            QMessageBox.StandardButton.Cancel,
            self._parent,
        )
        read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(read_only)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda button: self._open_read_only(source, who) if button is read_only else None)
        box.open()

    def _open_read_only(self, source: Path, who: str) -> None:
        self._opening = (resolve_project_path(source), who)
        try:
            self._open_project(source, True)
        finally:
            self._opening = None

    def opened(self, store: ProjectStore | None) -> str | None:
        """A project has opened in the window (None: the window closed it).
        Returns the banner text when it is one that another edits, and then
        watches for them to close it."""
        self._timer.stop()
        self._following = None
        if store is None or self._opening is None or self._opening[0] != store.path or not store.read_only:
            return None
        self._following = store.path
        self._timer.start()
        return (
            f"<b>Read-only: open for editing elsewhere.</b> {store.path} is being edited in {self._opening[1]}. "
            "Its saved edits show here within seconds; nothing is saved from here."
        )

    def _check_free(self) -> None:
        if self._following is None or not is_free(self._following):
            return
        self._timer.stop()
        self._banner.show_message(
            f"<b>Read-only.</b> {self._following} is no longer open for editing elsewhere.", "info", "Edit here"
        )

    def _edit_here(self) -> None:
        """Open again, for editing, the project the other editor has closed."""
        project = self._following
        if project is None:
            return
        self._close_project()
        self._open_project(project, None)
