"""The export and import dialogs run their job off the GUI thread, show
progress, report the result, and settle unknown classes by choice."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from conftest import small_labelled_store  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402
from PySide6.QtWidgets import QComboBox  # noqa: E402

from app.gui.dialogs.export_dialog import ExportDialog  # noqa: E402
from app.gui.dialogs.import_dialog import SKIP, ImportDialog  # noqa: E402
from core.store import ProjectStore  # noqa: E402


@pytest.fixture
def store(tmp_path: Path):
    store = small_labelled_store(tmp_path, slides=4)
    yield store
    QThreadPool.globalInstance().waitForDone(5000)
    store.close()


def test_export_dialog_exports_with_chosen_options(qtbot, store: ProjectStore, tmp_path: Path) -> None:
    dialog = ExportDialog(None, store)
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("crops"))
    assert dialog.crop_box.isVisibleTo(dialog)
    dialog.out_edit.setText(str(tmp_path / "crops"))
    dialog.size_spin.setValue(32)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)
    assert dialog.result_value.cells == 8
    assert "Exported 4 slides and 8 cells" in dialog.status.text()
    assert len(list((tmp_path / "crops").rglob("*.png"))) == 8


def test_export_dialog_shows_a_refusal(qtbot, store: ProjectStore, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("x")
    dialog = ExportDialog(None, store)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(tmp_path / "busy"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "not empty" in dialog.status.text(), timeout=10000)
    assert not dialog.running and dialog.start_button.isEnabled()


def test_import_dialog_settles_unknown_classes_then_imports(qtbot, store: ProjectStore, tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "Lymph").mkdir(parents=True)
    (source / "junk").mkdir()
    for folder, count in (("Lymph", 3), ("junk", 2)):
        for n in range(count):
            cv2.imwrite(str(source / folder / f"c{n}.png"), np.full((20, 20, 3), 50, np.uint8))
    before = store.summary()
    dialog = ImportDialog(None, store)
    qtbot.addWidget(dialog)
    dialog.source_edit.setText(str(source))
    assert not dialog.locate_check.isEnabled()  # finding the cell is a crops matter
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("crops"))
    assert dialog.locate_check.isEnabled() and dialog.locate_check.isChecked()
    # Uniform 20 px squares hold no cell to find, and the detector would load for nothing.
    dialog.locate_check.setChecked(False)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.unknown_box.isVisibleTo(dialog), timeout=10000)
    assert store.summary() == before
    rows = {dialog.unknown_table.item(row, 0).text(): row for row in range(dialog.unknown_table.rowCount())}
    assert set(rows) == {"Lymph", "junk"}
    lymph, junk = (dialog.unknown_table.cellWidget(rows[name], 2) for name in ("Lymph", "junk"))
    assert isinstance(lymph, QComboBox) and isinstance(junk, QComboBox)
    lymph.setCurrentIndex(lymph.findData("lymphocyte"))
    assert junk.currentText() == SKIP
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=5000)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)
    assert dialog.result_value.cells_added == 3
    assert sum(1 for cell in store.cells() if cell.label == "lymphocyte") == 3


def test_cancel_stops_a_running_job_and_says_so(qtbot) -> None:
    import threading

    from app.gui.dialogs.job_dialog import JobDialog
    from core.jobs import Progress

    started = threading.Event()

    def endless(token):
        n = 0
        while True:
            token.raise_if_cancelled()
            started.set()
            n += 1
            yield Progress(n % 100, 100, "working")
            threading.Event().wait(0.005)

    progress_threads = set()

    class Endless(JobDialog):
        def start(self) -> None:
            self.start_job(endless, "starting")

        def _on_progress(self, progress) -> None:
            progress_threads.add(threading.current_thread())
            super()._on_progress(progress)

    dialog = Endless(None, "test")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start_button.click()
    assert started.wait(5)
    assert dialog.running and not dialog.start_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=5000)
    assert dialog.status.text().startswith("Cancelled")
    assert dialog.isVisible()  # still open to say so
    assert progress_threads == {threading.main_thread()}  # widgets touched on the GUI thread only

    # Closing the window while a job runs cancels it, then closes.
    started.clear()
    dialog.start_button.click()
    assert started.wait(5)
    dialog.close()
    assert dialog.isVisible() and dialog.running
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert not dialog.running


def _type_into_the_opened_dialog(qtbot, dialog, text: str) -> None:  # noqa: ANN001
    """Show the dialog, wait for its focus (it must be the path field, as
    the dialog opens), type there and press Enter."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None and dialog.isAncestorOf(QApplication.focusWidget()))
    field = QApplication.focusWidget()
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_a_path_typed_into_the_open_dialog_and_enter_runs_its_job(qtbot, store: ProjectStore, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The path field has the keys when the dialog opens, and Enter there runs
    the export or import: it pressed Browse… (a file dialog) instead."""
    from PySide6.QtWidgets import QFileDialog

    browsed: list[str] = []
    def browse(what: str, chosen: object) -> Callable[..., object]:
        def dialog(*args: object) -> object:
            browsed.append(what)
            return chosen
        return dialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", browse("folder", ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", browse("file", ("", "")))
    dialog = ExportDialog(None, store)
    _type_into_the_opened_dialog(qtbot, dialog, str(tmp_path / "voc"))
    assert dialog.out_edit.text() == str(tmp_path / "voc")  # typed where the folder goes
    qtbot.waitUntil(lambda: dialog.result_value is not None, timeout=10000)
    assert dialog.result_value.cells == 8 and browsed == []
    imported = ProjectStore.create(tmp_path / "imported.hemalabel")
    try:
        importer = ImportDialog(None, imported)
        _type_into_the_opened_dialog(qtbot, importer, str(tmp_path / "voc"))
        assert importer.source_edit.text() == str(tmp_path / "voc")
        qtbot.waitUntil(lambda: len(imported.slides()) == 4, timeout=10000)
        assert browsed == []
    finally:
        QThreadPool.globalInstance().waitForDone(5000)
        imported.close()
