"""Export labelled data: format, slides, classes, split, crop settings, folder.
The dialog remembers the last choices (settings) and can export again after
a change, as a technician exports the same project in two formats."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.gui.dialogs.job_dialog import JobDialog
from app.gui.settings import app_qsettings
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
_KEY = "export/"  # the settings group of the dialog's remembered choices


class ExportDialog(JobDialog):
    doing = "exporting"  # what quitting would stop
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
        form.addRow("&Format", self.format_combo)
        self.slides_combo = QComboBox()
        for key, text in SLIDE_NAMES.items():
            self.slides_combo.addItem(text, key)
        form.addRow("S&lides", self.slides_combo)
        folder_row = QHBoxLayout()
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("an empty or new folder")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.out_edit)
        folder_row.addWidget(browse)
        folder_label = QLabel("F&older")
        folder_label.setBuddy(self.out_edit)
        form.addRow(folder_label, folder_row)
        self.overwrite_check = QCheckBox("&Write into a folder that is not empty")
        form.addRow("", self.overwrite_check)
        self.copy_images_check = QCheckBox("Copy the &images into the dataset")
        self.copy_images_check.setChecked(True)
        form.addRow("", self.copy_images_check)
        self.form_layout.addWidget(form_box)

        # Two lists under their own headers: a class is a label a cell has, a
        # kind takes every box of that kind whatever its label.  A cell is
        # exported when its class or its kind is ticked.
        classes_box = QGroupBox("Cells")
        classes_layout = QGridLayout(classes_box)
        self.class_list = QListWidget()
        for name in store.taxonomy.names:
            self._add_class_item(self.class_list, store.taxonomy.get(name).display, name)
        self.kind_list = QListWidget()
        for key, text in KIND_ITEMS:
            self._add_class_item(self.kind_list, text, key)
        self.class_list.setToolTip("Cells with these classes (Space ticks or unticks the class chosen)")
        self.kind_list.setToolTip("Every box of these kinds, whatever its class, as the detector's datasets label them")
        classes_label = QLabel("&Classes")
        classes_label.setBuddy(self.class_list)
        kinds_label = QLabel("Or every box of a &kind")
        kinds_label.setBuddy(self.kind_list)
        # Every class in view without scrolling (Qt's default showed five of
        # the entries); a taxonomy longer than twelve scrolls.
        rows = min(self.class_list.count(), 12)
        self.class_list.setMinimumHeight(rows * self.class_list.sizeHintForRow(0) + 2 * self.class_list.frameWidth())
        classes_layout.addWidget(classes_label, 0, 0)
        classes_layout.addWidget(kinds_label, 0, 1)
        classes_layout.addWidget(self.class_list, 1, 0)
        classes_layout.addWidget(self.kind_list, 1, 1, Qt.AlignmentFlag.AlignTop)
        self.kind_list.setFixedHeight(
            len(KIND_ITEMS) * self.kind_list.sizeHintForRow(0) + 2 * self.kind_list.frameWidth()
        )
        self.form_layout.addWidget(classes_box)

        split_box = QGroupBox("S&plit by slide into train / val / test")
        split_box.setCheckable(True)
        split_box.setChecked(False)
        split_form = QFormLayout(split_box)
        self.split_spins = []
        for name, value in (("T&rain", 0.8), ("V&al", 0.1), ("Te&st", 0.1)):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setValue(value)
            self.split_spins.append(spin)
            split_form.addRow(name, spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        split_form.addRow("S&eed", self.seed_spin)
        self.split_box = split_box
        self.form_layout.addWidget(split_box)

        crop_box = QGroupBox("Crops")
        crop_form = QFormLayout(crop_box)
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setRange(0.0, 5.0)
        self.margin_spin.setSingleStep(0.05)
        self.margin_spin.setValue(DEFAULT_MARGIN)
        crop_form.addRow("&Margin (fraction of the box)", self.margin_spin)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 4096)
        self.size_spin.setSpecialValueText("natural size")
        crop_form.addRow("Si&ze (px)", self.size_spin)
        self.crop_format_combo = QComboBox()
        self.crop_format_combo.addItems(["png", "jpg"])
        crop_form.addRow("File forma&t", self.crop_format_combo)
        self.crop_box = crop_box
        self.form_layout.addWidget(crop_box)
        self._restore()
        self._update_enabled()
        self._watch_changes()
        # The one field to fill: type the folder (over the remembered one), Enter exports.
        self.out_edit.setFocus()
        self.out_edit.selectAll()

    def _add_class_item(self, target: QListWidget, text: str, key: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        target.addItem(item)

    def _items(self) -> list[QListWidgetItem]:
        return [lst.item(row) for lst in (self.class_list, self.kind_list) for row in range(lst.count())]

    # ------------------------------------------------------------ what was chosen last time
    def _restore(self) -> None:
        """The last export's choices.  Not "write into a folder that is not
        empty": that is asked again each time, so a remembered tick never
        writes over a dataset unasked."""
        q = app_qsettings()
        _choose(self.format_combo, q.value(_KEY + "format"))
        _choose(self.slides_combo, q.value(_KEY + "slides"))
        self.out_edit.setText(str(q.value(_KEY + "folder", "") or ""))
        self.copy_images_check.setChecked(_flag(q, "copy_images", True))
        unticked = set(_strings(q.value(_KEY + "unticked", [])))
        for item in self._items():
            ticked = item.data(Qt.ItemDataRole.UserRole) not in unticked
            item.setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)
        self.split_box.setChecked(_flag(q, "split", False))
        split = _strings(q.value(_KEY + "fractions", []))
        for spin, value in zip(self.split_spins, split, strict=False):
            spin.setValue(_number(value, spin.value()))
        self.seed_spin.setValue(int(_number(q.value(_KEY + "seed"), self.seed_spin.value())))
        self.margin_spin.setValue(_number(q.value(_KEY + "margin"), self.margin_spin.value()))
        self.size_spin.setValue(int(_number(q.value(_KEY + "size"), self.size_spin.value())))
        _choose(self.crop_format_combo, q.value(_KEY + "crop_format"), by_text=True)

    def _remember(self) -> None:
        q = app_qsettings()
        q.setValue(_KEY + "format", self.format_combo.currentData())
        q.setValue(_KEY + "slides", self.slides_combo.currentData())
        q.setValue(_KEY + "folder", self.out_edit.text().strip())
        q.setValue(_KEY + "copy_images", self.copy_images_check.isChecked())
        # The unticked, not the ticked: a class added to the taxonomy since is ticked.
        q.setValue(_KEY + "unticked", [item.data(Qt.ItemDataRole.UserRole) for item in self._items()
                                       if item.checkState() != Qt.CheckState.Checked])
        q.setValue(_KEY + "split", self.split_box.isChecked())
        q.setValue(_KEY + "fractions", [str(spin.value()) for spin in self.split_spins])
        q.setValue(_KEY + "seed", self.seed_spin.value())
        q.setValue(_KEY + "margin", self.margin_spin.value())
        q.setValue(_KEY + "size", self.size_spin.value())
        q.setValue(_KEY + "crop_format", self.crop_format_combo.currentText())
        q.sync()

    # ------------------------------------------------------------ exporting again
    def _watch_changes(self) -> None:
        """Any change after an export readies the dialog for the next one."""
        for combo in (self.format_combo, self.slides_combo, self.crop_format_combo):
            combo.currentIndexChanged.connect(self._choices_changed)
        self.out_edit.textChanged.connect(self._choices_changed)
        for check in (self.overwrite_check, self.copy_images_check):
            check.toggled.connect(self._choices_changed)
        self.split_box.toggled.connect(self._choices_changed)
        for spin in (*self.split_spins, self.margin_spin):
            spin.valueChanged.connect(self._choices_changed)
        for whole in (self.seed_spin, self.size_spin):
            whole.valueChanged.connect(self._choices_changed)
        for lst in (self.class_list, self.kind_list):
            lst.itemChanged.connect(self._choices_changed)

    def _choices_changed(self, *_args: object) -> None:
        if self.running:
            return
        self.start_button.setEnabled(True)
        if self.status.text():  # what the last export (or refusal) said is about other choices
            self.status.setText("")
            self.status.setStyleSheet("")
            self.progress_bar.setValue(0)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def _update_enabled(self) -> None:
        self.crop_box.setVisible(self.format_combo.currentData() == "crops")

    def options(self) -> ExportOptions:
        items = self._items()
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
        self._remember()
        self.start_job(lambda token: export_dataset(self.store, out, options, token), "Exporting…")

    def on_finished(self, report: ExportReport) -> None:
        self.result_value = report
        skipped = (
            f"; {counted(len(report.skipped), 'slide')} skipped: {report.skipped[0][0]}…" if report.skipped else ""
        )
        self.status.setStyleSheet("")
        self.status.setText(
            f"Exported {counted(report.slides, 'slide')} and {counted(report.cells, 'cell')} to {report.out} "
            f"in {report.seconds:.1f} s{skipped}"
        )
        self.progress_bar.setValue(self.progress_bar.maximum())
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Close")



def _choose(combo: QComboBox, value: object, by_text: bool = False) -> None:
    """Choose a remembered entry, if it is still one of the combo's."""
    index = combo.findText(str(value)) if by_text else combo.findData(value)
    if value is not None and index >= 0:
        combo.setCurrentIndex(index)


def _flag(q: QSettings, name: str, default: bool) -> bool:
    value = q.value(_KEY + name, default)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def _strings(value: object) -> list[str]:
    # An INI file gives back a one-item list as a plain string.
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _number(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
