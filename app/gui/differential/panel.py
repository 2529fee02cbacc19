"""The differential panel: live counts and percentages per white-cell class,
NRBC per 100 white cells, platelets, total, progress towards the target
count, a bar chart, and the slide's sign-off.

The numbers come from core.differential, the same function the store uses to
refuse a sign-off and the report prints, so the panel, the refusal and the
report never disagree.  Redraws are rate-limited: a burst of edits (a group
confirmed, a model run) costs one redraw.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.session import ProjectSession
from app.gui.settings import app_qsettings
from app.gui.style import configure_pyqtgraph
from core.differential import Differential, differential_of_groups
from core.schema import SlideStatus
from core.store import BlastTally, ProjectStore, StoreError
from core.wording import minute_utc

REDRAW_INTERVAL_MS = 200
TARGETS = (100, 200)
SETTINGS_TARGET = "differential/target"


class DifferentialPanel(QWidget):
    """`set_slide(slide_id)` chooses the slide (None: the whole project).
    `sign_off_requested(slide_id)` fires when the technician asks to sign off;
    by default the panel opens the sign-off dialog itself.  `project` is the
    window's ProjectSession (or a bare store, for the panel on its own); the
    counts are read through its read-only connection."""

    sign_off_requested = Signal(int)
    refreshed = Signal()

    def __init__(self, project: ProjectSession | ProjectStore, parent: QWidget | None = None,
                 slide_id: int | None = None,
                 open_dialog_itself: bool = True) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.session = ProjectSession.of(project, self)
        self._own_session = self.session is not project
        self.store = self.session.reader  # reads only; sign-off writes through session.store
        self.slide_id = slide_id
        self.count: Differential | None = None
        self.blasts = BlastTally()
        self._open_dialog_itself = open_dialog_itself
        self.active_dialog = None
        self._classes = self.session.taxonomy.differential_classes()
        self.session.changed.connect(self._on_store_events)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self.refresh)
        self._build()
        self.refresh()

    # ------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(5)
        self.title = QLabel()
        title_font = QFont()
        title_font.setPointSizeF(title_font.pointSizeF() + 2)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setWordWrap(True)  # a long file name must not widen the dock
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # a typed sample identifier is no markup either
        self.subtitle = QLabel()
        # Initials and comments are typed text: "<5% blasts" must not be taken for markup.
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setStyleSheet("color: #5f6b7a;")
        self.subtitle.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)

        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Target"))
        self.target_combo = QComboBox()
        for target in TARGETS:
            self.target_combo.addItem(f"{target} cells", target)
        saved_value: Any = app_qsettings().value(SETTINGS_TARGET, TARGETS[0])
        saved = int(saved_value)
        self.target_combo.setCurrentIndex(max(0, self.target_combo.findData(saved)))
        self.target_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        target_row.addWidget(self.target_combo)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        target_row.addWidget(self.progress, 1)
        layout.addLayout(target_row)

        self.table = QTableWidget(len(self._classes), 3)
        self.table.setHorizontalHeaderLabels(["Class", "Count", "%"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        taxonomy = self.session.taxonomy
        for row, name in enumerate(self._classes):
            item = QTableWidgetItem(f"  {taxonomy.get(name).display}")
            swatch = QColor(taxonomy.get(name).colour)
            item.setData(Qt.ItemDataRole.DecorationRole, swatch)
            self.table.setItem(row, 0, item)
            for column in (1, 2):
                cell = QTableWidgetItem("0")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, cell)
        self.table.resizeRowsToContents()
        rows_height = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        header_height = self.table.horizontalHeader().sizeHint().height()
        frame = self.table.frameWidth()
        self.table.setFixedHeight(rows_height + header_height + 2 * frame)
        # As wide as its columns with the widest figures in them, so no class
        # name or count is cut; the chart takes the rest.
        for column, widest in ((1, "8888"), (2, "100.0")):
            self.table.item(0, column).setText(widest)
        self.table.resizeColumnsToContents()
        self.table.setFixedWidth(header.length() + 2 * frame)
        for column in (1, 2):
            self.table.item(0, column).setText("0")
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        # The chart beside the table, one bar per row, level with its row:
        # the table names the classes and gives the numbers, the bars show
        # the shares at a glance.  Beside rather than below, so the counts,
        # the chart and the sign-off fit a 1366x768 screen with the cell
        # inspector above them.
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("differentialChart")
        self.plot.setFixedHeight(rows_height)
        self.plot.setMinimumWidth(60)
        self.plot.setMenuEnabled(False)
        self.plot.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a chart to read: keys belong to the review views
        self.plot.viewport().setFocusPolicy(Qt.FocusPolicy.NoFocus)  # which takes them itself otherwise
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setFrameShape(QFrame.Shape.NoFrame)
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.layout.setContentsMargins(0, 0, 0, 0)
        self.plot.setToolTip("Share of each class among the white cells counted, level with its row in the table")
        brushes = [pg.mkBrush(taxonomy.get(name).colour) for name in self._classes]
        rows = len(self._classes)
        self.bars = pg.BarGraphItem(x0=[0] * rows, y=list(range(rows)), width=[0] * rows, height=0.62,
                                    brushes=brushes, pen=pg.mkPen(None))
        self.plot.addItem(self.bars)
        # The percentages 0 to 100 as faint guides at the quarters.
        for share in (25, 50, 75, 100):
            self.plot.addItem(pg.InfiniteLine(share, angle=90, pen=pg.mkPen("#dde2e7", width=1)))
        view = item.getViewBox()
        view.invertY(True)  # the first class at the top, as in the table
        view.setDefaultPadding(0)
        view.setYRange(-0.5, rows - 0.5, padding=0)
        view.setXRange(0, 100, padding=0)
        # With nothing counted the chart would be bars of nothing: a sentence says so instead.
        self.chart_empty = QLabel("No white cells counted yet.\nThe chart fills in as white cells are classified.")
        self.chart_empty.setObjectName("differentialChartEmpty")
        self.chart_empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.chart_empty.setWordWrap(True)
        self.chart_empty.setStyleSheet("color: #7a8591;")
        self.chart = QStackedWidget()
        self.chart.addWidget(self.plot)
        self.chart.addWidget(self.chart_empty)
        beside_rows = QVBoxLayout()  # the chart's top level with the table's first row
        beside_rows.setContentsMargins(0, header_height + frame, 0, frame)
        beside_rows.addWidget(self.chart)
        counts = QHBoxLayout()
        counts.setSpacing(6)
        counts.addWidget(self.table)
        counts.addLayout(beside_rows, 1)
        layout.addLayout(counts)

        # The other figures, two to a row.
        extras = QGridLayout()
        extras.setHorizontalSpacing(8)
        extras.setVerticalSpacing(2)
        self.extra_values: dict[str, QLabel] = {}
        for index, (key, text) in enumerate(
            (
                ("counted", "White cells counted"),
                ("platelets", "Platelets"),
                ("nrbc", "NRBC per 100 WBC"),
                ("unidentified", "Unidentified"),
                ("unreviewed", "Not yet reviewed"),
            )
        ):
            row, pair = divmod(index, 2)
            extras.addWidget(QLabel(text), row, 3 * pair)
            value = QLabel("0")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setObjectName(f"differential_{key}")
            extras.addWidget(value, row, 3 * pair + 1)
            self.extra_values[key] = value
        extras.setColumnMinimumWidth(2, 10)
        extras.setColumnStretch(1, 1)
        extras.setColumnStretch(4, 1)
        layout.addLayout(extras)
        # The lymphoid screen's flags, shown once a slide was screened.
        self.blast_label = QLabel()
        self.blast_label.setObjectName("differential_blasts")
        self.blast_label.setWordWrap(True)
        self.blast_label.hide()
        layout.addWidget(self.blast_label)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #c9d0d9;")
        layout.addWidget(line)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.sign_off_button = QPushButton("Sign off slide…")
        self.sign_off_button.setToolTip("Sign the slide off with this count, or unlock a signed slide")
        self.sign_off_button.clicked.connect(self._sign_off_clicked)
        sign_off_row = QHBoxLayout()
        sign_off_row.addWidget(self.state_label, 1)
        sign_off_row.addWidget(self.sign_off_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(sign_off_row)
        layout.addStretch(1)  # on a tall screen the blank is below the sign-off, not between it and its count

    # ------------------------------------------------------------ public API
    def shutdown(self) -> None:
        """Stop following the project (before it closes)."""
        self._redraw_timer.stop()
        with contextlib.suppress(RuntimeError, TypeError):  # already shut down
            self.session.changed.disconnect(self._on_store_events)
        if self._own_session:
            self.session.close()

    @Slot(list)
    def _on_store_events(self, _events: list) -> None:
        self.schedule_refresh()

    def set_slide(self, slide_id: int | None) -> None:
        self.slide_id = slide_id
        self.refresh()

    @property
    def target(self) -> int:
        return int(self.target_combo.currentData())

    def set_target(self, target: int) -> None:
        index = self.target_combo.findData(target)
        if index < 0:
            self.target_combo.addItem(f"{target} cells", target)
            index = self.target_combo.count() - 1
        self.target_combo.setCurrentIndex(index)

    def schedule_refresh(self) -> None:
        """Redraw soon; many calls in a burst make one redraw."""
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    @Slot()
    def refresh(self) -> None:
        self._redraw_timer.stop()
        try:
            slide = self.store.slide(self.slide_id) if self.slide_id is not None else None
        except StoreError:  # the slide went away; show the project
            self.slide_id, slide = None, None
        count = differential_of_groups(self.store.cell_groups(self.slide_id), self.session.taxonomy)
        self.count = count
        self.blasts = self.store.blast_tally(self.slide_id)
        self._show(count, slide)
        self.refreshed.emit()

    # ------------------------------------------------------------ drawing
    def _show(self, count: Differential, slide) -> None:  # noqa: ANN001
        if slide is None:
            self.title.setText("Differential: all slides")
            self.subtitle.setText(f"{len(self.store.slides())} slides; choose a slide to sign it off")
        else:
            # The sample first, as the report heads its page; the file too where the sample is named apart.
            named_apart = slide.sample_id != Path(slide.image_name).stem
            self.title.setText(f"Differential: {slide.sample_id}" + (f" ({slide.image_name})" if named_apart else ""))
            if slide.status is SlideStatus.SIGNED_OFF:
                signed_by = f"Signed off by {slide.signed_off_by} at {minute_utc(slide.signed_off_at)}"
                self.subtitle.setText(signed_by + (f"\nComment: {slide.comment}" if slide.comment else ""))
            else:
                self.subtitle.setText(f"Status: {slide.status.value.replace('_', ' ')}")
        for row, name in enumerate(self._classes):
            self.table.item(row, 1).setText(str(count.counts[name]))
            self.table.item(row, 2).setText(count.percent_text(name))
        self.extra_values["counted"].setText(str(count.counted))
        self.extra_values["nrbc"].setText(
            "–" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}  ({count.nrbc})"
        )
        self.extra_values["platelets"].setText(str(count.platelets))
        self.extra_values["unidentified"].setText(str(count.unidentified))
        self.extra_values["unreviewed"].setText(str(count.unreviewed_white))
        target = self.target
        self.progress.setRange(0, target)
        self.progress.setValue(min(count.counted, target))
        self.progress.setFormat(f"{count.counted} / {target}  ({count.progress(target):.0%})")
        self.chart.setCurrentWidget(self.plot if count.counted else self.chart_empty)
        self.bars.setOpts(width=[count.percentages[name] for name in self._classes])

        self.blast_label.setVisible(bool(self.blasts.screened))
        # One line: the flags still open are in the sign-off line below.
        confirmed = f" ({self.blasts.confirmed} confirmed)" if self.blasts.confirmed else ""
        self.blast_label.setText(self.blasts.headline() + confirmed)
        self.blast_label.setToolTip(self.blasts.line())
        self.blast_label.setStyleSheet("color: #b3261e; font-weight: bold;" if self.blasts.open else "")
        blast_blocker = self.blasts.blocker()
        blockers = count.blockers() + ([blast_blocker] if blast_blocker else [])
        signed = slide is not None and slide.status is SlideStatus.SIGNED_OFF
        if signed:
            self.state_label.setText("Signed off: read-only until unlocked with a reason.")
            self.state_label.setStyleSheet("color: #1d2733;")
            self.sign_off_button.setText("Unlock slide…")
        elif blockers:
            self.state_label.setText("Not ready to sign off: " + "; ".join(blockers) + ".")
            self.state_label.setStyleSheet("color: #a15c00;")
            self.sign_off_button.setText("Sign off slide…")
        elif count.below_target(target):
            # Not "ready": a short count is signed only with a reason, which the dialog asks for.
            self.state_label.setText(
                f"{count.counted} of {target} white cells counted: below the target; "
                "signing off needs a reason."
            )
            self.state_label.setStyleSheet("color: #a15c00;")
            self.sign_off_button.setText("Sign off slide…")
        else:
            self.state_label.setText(f"Ready to sign off: {count.counted} of {target} white cells counted.")
            self.state_label.setStyleSheet("color: #1e8e3e; font-weight: bold;")
            self.sign_off_button.setText("Sign off slide…")
        self.sign_off_button.setEnabled(slide is not None)

    @Slot()
    def _target_changed(self) -> None:
        app_qsettings().setValue(SETTINGS_TARGET, self.target)
        self.refresh()

    @Slot()
    def _sign_off_clicked(self) -> None:
        if self.slide_id is None:
            return
        self.sign_off_requested.emit(self.slide_id)
        if self._open_dialog_itself:
            self.open_sign_off_dialog()

    def open_sign_off_dialog(self):  # noqa: ANN201 - SignOffDialog, imported late
        """Open the sign-off (or unlock) dialog for the current slide, window-modal
        and without blocking; returns it (None without a slide)."""
        from app.gui.dialogs.signoff_dialog import SignOffDialog

        if self.slide_id is None:
            return None
        if self.active_dialog is not None:
            self.active_dialog.deleteLater()
        dialog = SignOffDialog(self, self.session.store, self.slide_id, target=self.target)
        dialog.finished.connect(lambda _result: self.refresh())
        self.active_dialog = dialog
        dialog.open()
        return dialog

