"""File > Audit Trail…: who changed which cell from what to what and when,
on which workstation, whether it was undone, and who signed slides off or
unlocked them; filtered by slide, user, days and cell, and exported as CSV.
Everything it shows comes from core.audit_trail, as `hemalabel audit` prints.

It also says whom this window records edits under, and takes other initials.
Given the window's session it follows the project: an edit, an undo, a
sign-off made while it is open is read again and shown."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.gui.session import ProjectSession
from app.gui.user_identity import remember_initials, saved_initials
from app.gui.worker import start_call
from core.audit_trail import AuditEntry, AuditFilter, AuditTrailError, audit_trail, write_audit_csv
from core.identity import MAX_INITIALS
from core.schema import Slide
from core.store import ProjectStore, StoreEvent, StoreEventKind
from core.wording import counted

COLUMNS = ("Time", "User", "Workstation", "Slide", "Cell", "Action", "Change", "Undone")
_DAYS_SHOWN_AT_FIRST = 30  # the From day offered, when turned on: a month back
# Edits come a key press at a time: the trail is read again once they pause,
# and never while a read is on its way (a large project's takes seconds).
FOLLOW_DELAY_MS = 300
_TRAIL_CHANGES = (StoreEventKind.HISTORY_CHANGED, StoreEventKind.SLIDE_CHANGED, StoreEventKind.RELOADED)


class AuditTrailModel(QAbstractTableModel):
    """The entries as a table, one row each, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[AuditEntry] = []

    def set_entries(self, entries: list[AuditEntry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            # The time as recorded; the change whole, where the column cuts it.
            return f"{entry.at} (UTC)" if index.column() == 0 else cell_text(entry, index.column()) or None
        return cell_text(entry, index.column())


def cell_text(entry: AuditEntry, column: int) -> str:
    return entry.texts(entry.local_time)[column]


class AuditTrailDialog(QDialog):
    """The trail of `reader`'s project.  `store`: the window's editing store,
    whose edits from now on other initials are recorded under.  `session`:
    the window's, whose announced changes the trail follows."""

    def __init__(self, parent: QWidget | None, reader: ProjectStore, store: ProjectStore | None = None,
                 slide_id: int | None = None, session: ProjectSession | None = None) -> None:
        super().__init__(parent)
        self.reader, self.store = reader, store
        self.setWindowTitle(f"Audit Trail \u2014 {reader.path.name}")
        self.model = AuditTrailModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Audit trail")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        for column, width in enumerate((140, 70, 100, 110, 50, 110, 0, 150)):
            if width:
                self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(COLUMNS.index("Change"), QHeaderView.ResizeMode.Stretch)

        layout = QVBoxLayout(self)
        layout.addLayout(self._identity_row())
        layout.addLayout(self._filter_rows(slide_id))
        layout.addWidget(self.table, 1)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # names typed by people, never markup
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = QPushButton("E&xport CSV\u2026")
        self.export_button.setToolTip("Write the entries shown to a CSV file a spreadsheet opens")
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self.ask_export)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(1100, 600)
        self._asked = self._shown = 0  # reads asked for, and the one shown
        self._stale = False  # the project changed since the read on its way was asked for
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.setInterval(FOLLOW_DELAY_MS)
        self._follow_timer.timeout.connect(self._follow)
        if session is not None:
            # Qt disconnects it when the dialog is deleted.
            session.changed.connect(self.on_store_events)
        self.refresh()

    # ------------------------------------------------------------ layout
    def _identity_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.recorded_as = QLabel()
        self.recorded_as.setTextFormat(Qt.TextFormat.PlainText)
        row.addWidget(self.recorded_as, 1)
        label = QLabel("Your &initials:")
        self.initials_edit = QLineEdit(saved_initials())
        self.initials_edit.setMaxLength(MAX_INITIALS)
        self.initials_edit.setPlaceholderText("blank: your login")
        self.initials_edit.setMaximumWidth(140)
        label.setBuddy(self.initials_edit)
        self.apply_initials_button = QPushButton("&Apply")
        self.apply_initials_button.setToolTip("Record this window's edits from now on under these initials")
        self.apply_initials_button.clicked.connect(self.apply_initials)
        self.initials_edit.returnPressed.connect(self.apply_initials)
        row.addWidget(label)
        row.addWidget(self.initials_edit)
        row.addWidget(self.apply_initials_button)
        self._show_recorded_as()
        return row

    def _filter_rows(self, slide_id: int | None) -> QHBoxLayout:
        row = QHBoxLayout()
        self.slide_combo = QComboBox()
        self.slide_combo.addItem("All slides", None)
        for slide in self.reader.slides():
            self._add_slide(slide)
        if slide_id is not None:
            self.slide_combo.setCurrentIndex(max(self.slide_combo.findData(slide_id), 0))
        self.user_combo = QComboBox()
        self.user_combo.addItem("Everyone", None)
        for user in self.reader.trail_users():
            self.user_combo.addItem(user, user)
        self.cell_spin = QSpinBox()
        self.cell_spin.setRange(0, 2_000_000_000)
        self.cell_spin.setSpecialValueText("any")
        self.cell_spin.setToolTip("Only this cell's changes (its number as the Cell column shows it)")
        today = QDate.currentDate()
        self.since_check, self.since_edit = QCheckBox("&From"), _date_edit(today.addDays(-_DAYS_SHOWN_AT_FIRST))
        self.until_check, self.until_edit = QCheckBox("&To"), _date_edit(today)
        for text, widget, stretch in (("&Slide:", self.slide_combo, 3), ("&User:", self.user_combo, 1),
                                      ("C&ell:", self.cell_spin, 0)):
            label = QLabel(text)
            label.setBuddy(widget)
            row.addWidget(label)
            row.addWidget(widget, stretch)
            row.addSpacing(8)
        for check, edit in ((self.since_check, self.since_edit), (self.until_check, self.until_edit)):
            row.addWidget(check)
            row.addWidget(edit)
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            check.toggled.connect(self.refresh)
            edit.dateChanged.connect(self.refresh)
        self.slide_combo.currentIndexChanged.connect(self.refresh)
        self.user_combo.currentIndexChanged.connect(self.refresh)
        self.cell_spin.valueChanged.connect(self.refresh)
        return row

    def _add_slide(self, slide: Slide) -> None:
        self.slide_combo.addItem(f"{slide.sample_id} ({slide.image_name})", slide.id)

    # ------------------------------------------------------------ behaviour
    def current_filter(self) -> AuditFilter:
        return AuditFilter(
            slide_id=self.slide_combo.currentData(),
            user=self.user_combo.currentData(),
            since=_day(self.since_edit) if self.since_check.isChecked() else None,
            until=_day(self.until_edit) if self.until_check.isChecked() else None,
            cell_id=self.cell_spin.value() or None,
        )

    @Slot(list)
    def on_store_events(self, events: list[StoreEvent]) -> None:
        """A change the trail may show: read it again once edits pause."""
        added = [event.slide_id for event in events
                 if event.kind is StoreEventKind.SLIDE_ADDED and event.slide_id is not None]
        for slide_id in added:
            if self.slide_combo.findData(slide_id) < 0:
                self._add_slide(self.reader.slide(slide_id))
        if any(event.kind in _TRAIL_CHANGES for event in events):
            self._stale = True
            self._follow_timer.start()

    @Slot()
    def _follow(self) -> None:
        # A read on its way started before the change: the next is asked for when it arrives.
        if self._stale and not self.reading:
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Read the entries the filters ask for off the GUI thread (a large
        project's whole trail takes seconds); the latest read is shown."""
        self._asked += 1
        self._stale = False
        asked, reader, where = self._asked, self.reader, self.current_filter()

        def read() -> tuple[int, list[AuditEntry] | AuditTrailError, list[str]]:
            try:
                return asked, audit_trail(reader, where), reader.trail_users()
            except AuditTrailError as error:  # a filter that makes no sense: said in the dialog
                return asked, error, []

        self.export_button.setEnabled(False)
        self.status.setText("Reading the audit trail…")
        # No parent: a late answer after the dialog is gone reaches nobody,
        # as Qt disconnects a deleted dialog's slots.
        start_call("Reading the audit trail", read, None, on_result=self._read, on_error=self._read_failed)

    @property
    def reading(self) -> bool:
        """Whether the entries shown are not yet those the filters ask for."""
        return self._shown != self._asked

    @Slot(object)
    def _read(self, answer: tuple[int, list[AuditEntry] | AuditTrailError, list[str]]) -> None:
        asked, entries, users = answer
        if asked != self._asked:
            return  # the filters changed since: a newer read is on its way
        self._shown = asked
        for user in users:  # someone who first appears while the dialog is open
            if self.user_combo.findData(user) < 0:
                self.user_combo.addItem(user, user)
        if isinstance(entries, AuditTrailError):
            self.model.set_entries([])
            self.status.setText(str(entries))
        else:
            self.model.set_entries(entries)
            self.export_button.setEnabled(bool(entries))
            self.status.setText(f"{counted(len(entries), 'entry', 'entries')} shown. Times are this computer's; "
                                "the CSV keeps them in UTC.")
        self._follow()

    @Slot(str, object)
    def _read_failed(self, message: str, _error: object) -> None:
        self._shown = self._asked
        self.model.set_entries([])
        self.status.setText(f"The audit trail could not be read. {message}")
        self._follow()

    @Slot()
    def ask_export(self) -> None:
        suggested = self.reader.folder / f"{self.reader.path.stem}-audit-trail.csv"
        path, _filter = QFileDialog.getSaveFileName(self, "Export the audit trail", str(suggested),
                                                    "CSV table (*.csv)")
        if path:
            self.export_to(Path(path) if Path(path).suffix else Path(path + ".csv"))

    def export_to(self, path: Path) -> Path | None:
        """Write the entries shown; the status line says where, or why not."""
        try:
            written = write_audit_csv(self.model.entries, path)
        except AuditTrailError as error:
            self.status.setText(f"The audit trail was not written. {error}")
            return None
        self.status.setText(f"{counted(len(self.model.entries), 'entry', 'entries')} written to {written}")
        return written

    @Slot()
    def apply_initials(self) -> None:
        remember_initials(self.initials_edit.text(), self.store)
        self.initials_edit.setText(saved_initials())
        self._show_recorded_as()

    def _show_recorded_as(self) -> None:
        identity = self.store.identity if self.store is not None else self.reader.identity
        if self.store is not None and self.store.read_only:
            self.recorded_as.setText(f"Read-only here: nothing is recorded. You are {identity.describe()}.")
        else:
            self.recorded_as.setText(f"Your edits are recorded as {identity.describe()}.")


def _date_edit(day: QDate) -> QDateEdit:
    edit = QDateEdit(day)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    return edit


def _day(edit: QDateEdit) -> date:
    chosen = edit.date()
    return date(chosen.year(), chosen.month(), chosen.day())
