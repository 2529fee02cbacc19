"""Import images or labelled data into the open project.  When the source
uses classes the project lacks, the dialog lists them with a choice for
each (a project class, or skip) and runs the import again; nothing is
written until every class is settled."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.dialogs.job_dialog import JobDialog
from core.formats.common import KIND_EXPORT_NAMES, UnknownClass
from core.importing import FORMATS, ImportReport, UnknownClassesError, import_source
from core.store import ProjectStore
from core.wording import counted, counted_verb

FORMAT_NAMES = {
    "auto": "Recognise automatically",
    "folder": "Folder of images to review",
    "voc": "Pascal VOC",
    "yolo": "YOLO",
    "coco": "COCO (JSON)",
    "crops": "Cell crops in class folders",
    "csv": "CSV (one row per cell)",
}
SKIP = "(skip these boxes)"


class ImportDialog(JobDialog):
    doing = "importing"  # what quitting would stop
    start_text = "Import"

    def __init__(self, parent: QWidget | None, store: ProjectStore) -> None:
        super().__init__(parent, "Import")
        self.store = store
        box = QGroupBox("Source")
        form = QFormLayout(box)
        source_row = QHBoxLayout()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("a folder, or a COCO .json / .csv file")
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._browse_folder)
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._browse_file)
        for widget in (self.source_edit, folder_button, file_button):
            source_row.addWidget(widget)
        form.addRow("Source", source_row)
        self.format_combo = QComboBox()
        for key in FORMATS:
            self.format_combo.addItem(FORMAT_NAMES.get(key, key), key)
        form.addRow("Format", self.format_combo)
        self.split_combo = QComboBox()
        self.split_combo.addItem("All", None)
        for split in ("train", "val", "test"):
            self.split_combo.addItem(split, split)
        form.addRow("Split", self.split_combo)
        # A CellaVision image or a crop cut at another tool's margin holds
        # its cell among others: the detector finds it, unless the crops are
        # known to be cut tight at the cell.
        self.locate_check = QCheckBox("Find the cell in each crop with the detector")
        self.locate_check.setChecked(True)
        self.locate_check.setToolTip(
            "On: each crop's box is the cell the detector finds nearest its centre (you can move it in review). "
            "Off: each whole image is its cell's box, for crops cut tight at the cell."
        )
        form.addRow("", self.locate_check)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        self.form_layout.addWidget(box)

        self.unknown_box = QGroupBox("Classes this project does not have: choose what each becomes")
        unknown_layout = QVBoxLayout(self.unknown_box)
        self.unknown_table = QTableWidget(0, 3)
        self.unknown_table.setHorizontalHeaderLabels(["Class in the source", "Boxes", "Import as"])
        self.unknown_table.horizontalHeader().setStretchLastSection(True)
        unknown_layout.addWidget(self.unknown_table)
        self.unknown_box.setVisible(False)
        self.form_layout.addWidget(self.unknown_box)
        self.unknown: list[UnknownClass] = []
        self.source_edit.setFocus()  # the one field to fill: type the source, Enter imports

    def _format_changed(self) -> None:
        self.locate_check.setEnabled(self.format_combo.currentData() == "crops")

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import folder", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import file", self.source_edit.text(),
                                              "COCO or CSV (*.json *.csv)")
        if path:
            self.source_edit.setText(path)

    def class_choices(self) -> tuple[dict[str, str], bool]:
        """The mapping chosen in the table, and whether any class is skipped."""
        mapping, skip = {}, False
        for row, item in enumerate(self.unknown):
            combo = self.unknown_table.cellWidget(row, 2)
            assert isinstance(combo, QComboBox)
            if combo.currentText() == SKIP:
                skip = True
            else:
                mapping[item.name] = combo.currentData()
        return mapping, skip

    def show_unknown(self, unknown: list[UnknownClass]) -> None:
        self.unknown = unknown
        self.unknown_table.setRowCount(len(unknown))
        targets = [(self.store.taxonomy.get(name).display, name) for name in self.store.taxonomy.names]
        targets += [(f"{name} (unlabelled {kind.value})", name) for kind, name in KIND_EXPORT_NAMES.items()]
        for row, item in enumerate(unknown):
            name_item = QTableWidgetItem(item.name)
            name_item.setToolTip(f"first at {item.first_seen}")
            self.unknown_table.setItem(row, 0, name_item)
            self.unknown_table.setItem(row, 1, QTableWidgetItem(str(item.count)))
            combo = QComboBox()
            combo.addItem(SKIP, None)
            for text, name in targets:
                combo.addItem(text, name)
            self.unknown_table.setCellWidget(row, 2, combo)
        self.unknown_box.setVisible(True)

    def start(self) -> None:
        source = self.source_edit.text().strip()
        if not source:
            self.show_error("Choose a folder or file to import.")
            return
        fmt = self.format_combo.currentData()
        split = self.split_combo.currentData()
        mapping, skip = self.class_choices() if self.unknown else ({}, False)
        locate = "auto" if self.locate_check.isChecked() else "off"
        self.start_job(
            lambda token: import_source(
                self.store, source, fmt, split=split, cancel=token, class_map=mapping, skip_unknown=skip,
                locate=locate,
            ),
            "Reading the source…",
        )

    def on_failed(self, error: BaseException) -> None:
        if isinstance(error, UnknownClassesError):
            self.show_unknown(error.unknown)
            self.show_error(
                f"{counted_verb(len(error.unknown), 'class', 'is', 'are', 'classes')} of the source not in this "
                "project. Nothing was imported: "
                "choose what each becomes, then Import again."
            )
            return
        self.show_error(f"{error}\nNothing was imported.")

    def on_finished(self, report: ImportReport) -> None:
        self.result_value = report
        lines = [
            f"Imported {counted(report.slides_added, 'new slide')} ({report.slides_existing} already in the project), "
            f"{counted(report.cells_added, 'cell')}"
            + (f", {report.cells_duplicate} duplicates ignored" if report.cells_duplicate else "")
        ]
        if report.cells_found is not None:
            lines.append(f"Cells: {report.cells_found.describe()}")
        lines += [f"skipped {path}: {reason}" for path, reason in report.skipped[:5]]
        lines += [f"warning: {warning}" for warning in report.warnings[:5]]
        more = len(report.skipped) + len(report.warnings) - len(lines) + 1
        if more > 0:
            lines.append(f"… and {more} more")
        self.status.setStyleSheet("")
        self.status.setText("\n".join(lines))
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Close")

