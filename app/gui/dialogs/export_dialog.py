"""Export labelled data: format, slides, classes, split, crop settings, folder."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.gui.dialogs.job_dialog import JobDialog
from core.crops import DEFAULT_MARGIN
from core.exporting import ExportOptions, ExportReport, export_dataset
from core.store import ProjectStore
from core.wording import counted

FORMAT_NAMES = {
    "voc": "Pascal VOC (XML per image)",
    "coco": "COCO (JSON)",
    "yolo": "YOLO (txt per image + data.yaml)",
    "crops": "Cell crops in class folders",
    "csv": "CSV (one row per cell)",
}
SLIDE_NAMES = {"all": "All slides", "reviewed": "Reviewed slides", "signed-off": "Signed-off slides only"}
KIND_ITEMS = (("white", "Every white cell"), ("red", "Every red cell"), ("platelet", "Every platelet"))


class ExportDialog(JobDialog):
    start_text = "Export"
    cancel_leaves_nothing = False  # files already written stay; the folder is marked incomplete by its missing manifest

    def __init__(self, parent: QWidget | None, store: ProjectStore) -> None:
        super().__init__(parent, "Export labelled data")
        self.store = store

        form_box = QGroupBox("Dataset")
        form = QFormLayout(form_box)
        self.format_combo = QComboBox()
        for key, text in FORMAT_NAMES.items():
            self.format_combo.addItem(text, key)
        self.format_combo.currentIndexChanged.connect(self._update_enabled)
        form.addRow("Format", self.format_combo)
        self.slides_combo = QComboBox()
        for key, text in SLIDE_NAMES.items():
            self.slides_combo.addItem(text, key)
        form.addRow("Slides", self.slides_combo)
        folder_row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("an empty or new folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.out_edit)
        folder_row.addWidget(browse)
        form.addRow("Folder", folder_row)
        self.overwrite_check = QCheckBox("Write into a folder that is not empty")
        form.addRow("", self.overwrite_check)
        self.copy_images_check = QCheckBox("Copy the images into the dataset")
        self.copy_images_check.setChecked(True)
        form.addRow("", self.copy_images_check)
        self.form_layout.addWidget(form_box)

        classes_box = QGroupBox("Classes")
        classes_layout = QHBoxLayout(classes_box)
        self.class_list = QListWidget()
        for name in store.taxonomy.names:
            self._add_class_item(store.taxonomy.get(name).display, name)
        for key, text in KIND_ITEMS:
            self._add_class_item(text, key)
        # Every class in view without scrolling (Qt's default showed five of
        # the twelve entries); a taxonomy longer than twelve scrolls.
        rows = min(self.class_list.count(), 12)
        self.class_list.setMinimumHeight(rows * self.class_list.sizeHintForRow(0) + 2 * self.class_list.frameWidth())
        classes_layout.addWidget(self.class_list)
        self.form_layout.addWidget(classes_box)

        split_box = QGroupBox("Split by slide into train / val / test")
        split_box.setCheckable(True)
        split_box.setChecked(False)
        split_form = QFormLayout(split_box)
        self.split_spins = []
        for name, value in (("Train", 0.8), ("Val", 0.1), ("Test", 0.1)):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setValue(value)
            self.split_spins.append(spin)
            split_form.addRow(name, spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        split_form.addRow("Seed", self.seed_spin)
        self.split_box = split_box
        self.form_layout.addWidget(split_box)

        crop_box = QGroupBox("Crops")
        crop_form = QFormLayout(crop_box)
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setRange(0.0, 5.0)
        self.margin_spin.setSingleStep(0.05)
        self.margin_spin.setValue(DEFAULT_MARGIN)
        crop_form.addRow("Margin (fraction of the box)", self.margin_spin)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 4096)
        self.size_spin.setSpecialValueText("natural size")
        crop_form.addRow("Size (px)", self.size_spin)
        self.crop_format_combo = QComboBox()
        self.crop_format_combo.addItems(["png", "jpg"])
        crop_form.addRow("File format", self.crop_format_combo)
        self.crop_box = crop_box
        self.form_layout.addWidget(crop_box)
        self._update_enabled()
        self.out_edit.setFocus()  # the one field to fill: type the folder, Enter exports

    def _add_class_item(self, text: str, key: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.class_list.addItem(item)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def _update_enabled(self) -> None:
        self.crop_box.setVisible(self.format_combo.currentData() == "crops")

    def options(self) -> ExportOptions:
        items = [self.class_list.item(row) for row in range(self.class_list.count())]
        checked = [item.data(Qt.ItemDataRole.UserRole) for item in items if item.checkState() == Qt.CheckState.Checked]
        return ExportOptions(
            format=self.format_combo.currentData(),
            slides=self.slides_combo.currentData(),
            classes=None if len(checked) == len(items) else tuple(checked),
            split=tuple(spin.value() for spin in self.split_spins) if self.split_box.isChecked() else None,
            seed=self.seed_spin.value(),
            crop_margin=self.margin_spin.value(),
            crop_size=self.size_spin.value() or None,
            crop_format=self.crop_format_combo.currentText(),
            copy_images=self.copy_images_check.isChecked(),
            overwrite=self.overwrite_check.isChecked(),
        )

    def start(self) -> None:
        out = self.out_edit.text().strip()
        if not out:
            self.show_error("Choose a folder to export to.")
            return
        options = self.options()
        if options.classes == ():
            self.show_error("Choose at least one class.")
            return
        self.start_job(lambda token: export_dataset(self.store, out, options, token), "Exporting…")

    def on_finished(self, report: ExportReport) -> None:
        self.result_value = report
        skipped = f"; {counted(len(report.skipped), 'slide')} skipped: {report.skipped[0][0]}…" if report.skipped else ""
        self.status.setStyleSheet("")
        self.status.setText(
            f"Exported {counted(report.slides, 'slide')} and {counted(report.cells, 'cell')} to {report.out} "
            f"in {report.seconds:.1f} s{skipped}"
        )
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Close")

