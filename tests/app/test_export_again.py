"""The Export dialog works more than once: a change after an export readies
it for the next, it remembers the last choices across openings, and it
shows the taxonomy's classes apart from the kinds of box."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import small_labelled_store
from PySide6.QtCore import Qt, QThreadPool

from app.gui.dialogs.export_dialog import ExportDialog
from core.store import ProjectStore


@pytest.fixture
def store(tmp_path: Path):
    store = small_labelled_store(tmp_path, slides=2)
    yield store
    QThreadPool.globalInstance().waitForDone(5000)
    store.close()


def export(qtbot, dialog: ExportDialog) -> None:
    dialog.result_value = None
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)


def test_a_change_after_an_export_readies_the_next(qtbot, store: ProjectStore, tmp_path: Path) -> None:
    dialog = ExportDialog(None, store)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(tmp_path / "voc"))
    export(qtbot, dialog)
    assert "Exported 2 slides" in dialog.status.text() and not dialog.start_button.isEnabled()

    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("csv"))
    assert dialog.start_button.isEnabled() and dialog.status.text() == ""  # the old result is gone
    assert dialog.progress_bar.value() == 0
    dialog.out_edit.setText(str(tmp_path / "csv"))
    export(qtbot, dialog)
    assert dialog.result_value.format == "csv" and (tmp_path / "csv").is_dir()
    assert "csv" in dialog.status.text()

    dialog.out_edit.setText(str(tmp_path / "yolo"))  # the folder alone changed: Export again
    assert dialog.start_button.isEnabled() and dialog.status.text() == ""


def test_the_dialog_remembers_the_last_export(qtbot, store: ProjectStore, tmp_path: Path) -> None:
    first = ExportDialog(None, store)
    qtbot.addWidget(first)
    first.format_combo.setCurrentIndex(first.format_combo.findData("crops"))
    first.slides_combo.setCurrentIndex(first.slides_combo.findData("reviewed"))
    first.out_edit.setText(str(tmp_path / "crops"))
    first.size_spin.setValue(32)
    first.copy_images_check.setChecked(False)
    first.overwrite_check.setChecked(True)
    first.kind_list.item(1).setCheckState(Qt.CheckState.Unchecked)  # every red cell
    first.split_box.setChecked(True)
    first.seed_spin.setValue(7)
    export(qtbot, first)
    first.close()

    again = ExportDialog(None, store)
    qtbot.addWidget(again)
    assert again.format_combo.currentData() == "crops" and again.slides_combo.currentData() == "reviewed"
    assert again.out_edit.text() == str(tmp_path / "crops")
    assert again.out_edit.selectedText() == again.out_edit.text()  # typing a folder replaces it
    assert again.size_spin.value() == 32 and not again.copy_images_check.isChecked()
    assert again.split_box.isChecked() and again.seed_spin.value() == 7
    assert again.kind_list.item(1).checkState() == Qt.CheckState.Unchecked
    classes = again.options().classes
    assert classes is not None and "red" not in classes
    assert not again.overwrite_check.isChecked()  # asked again each time: no dataset written over unasked
    assert again.start_button.isEnabled() and again.status.text() == ""


def test_classes_and_kinds_are_two_lists(qtbot, store: ProjectStore) -> None:
    dialog = ExportDialog(None, store)
    qtbot.addWidget(dialog)

    def keys(items) -> list[str]:  # noqa: ANN001
        return [items.item(row).data(Qt.ItemDataRole.UserRole) for row in range(items.count())]

    assert keys(dialog.class_list) == list(store.taxonomy.names)
    assert keys(dialog.kind_list) == ["white", "red", "platelet"]
    for row in range(dialog.class_list.count()):
        dialog.class_list.item(row).setCheckState(Qt.CheckState.Unchecked)
    dialog.kind_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    dialog.kind_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.options().classes == ("red",)
