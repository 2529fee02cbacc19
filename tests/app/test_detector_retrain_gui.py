"""The detector in the retrain GUI: the Retrain dialog's choice of model on
its Settings tab, a fake detector fine-tune (no TensorFlow, no child
process) driving the Training and Results tabs and the decision, and the
Models dialog listing the detector's versions from their own registry."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from retrain_fakes import FakeRegistry, fake_curve, fake_insights, version  # noqa: E402

from app.gui import model_provider  # noqa: E402
from app.gui.retrain import backend  # noqa: E402
from app.gui.retrain.models_dialog import ModelsDialog  # noqa: E402
from app.gui.retrain.retrain_dialog import RetrainDialog  # noqa: E402
from app.gui.retrain.settings_form import DETECTOR  # noqa: E402
from core.detection.data import GroundTruth  # noqa: E402
from core.detection.project_fields import ProjectFields  # noqa: E402
from core.image_roots import ImageRoots  # noqa: E402
from core.jobs import CancelToken, Job, Progress  # noqa: E402
from core.retraining.detector_job import DetectorRetrainOutcome  # noqa: E402
from core.retraining.detector_scoring import DetectorComparison, DetectorScores  # noqa: E402
from core.retraining.settings import DetectorRetrainSettings  # noqa: E402
from core.store import ProjectStore  # noqa: E402


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeRegistry]:
    """The classifier's registry and the detector's, apart, as core keeps them."""
    fakes = {
        "classifier": FakeRegistry.standard(),
        "detector": FakeRegistry([
            version("cell-detector", "bundled", current=True),
            version("cell-detector-r1", "candidate", "cell-detector",
                    metrics={"held_out": [{"white_ap50": 0.31, "white_precision": 0.4},
                                          {"white_ap50": 0.97, "white_precision": 0.96}]}),
        ]),
    }
    monkeypatch.setattr(backend, "registry", lambda kind="classifier": fakes[kind])
    field = GroundTruth(Path("field.png"), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    monkeypatch.setattr(backend, "detector_fields",
                        lambda _store: ProjectFields([field] * 5, {"deleted": 2, "drawn": 3}, 8))
    monkeypatch.setattr(backend, "insights", lambda _store: fake_insights())
    monkeypatch.setattr(backend, "learning_curve", lambda _store, _cancel: fake_curve())
    return fakes


@pytest.fixture
def store(review_project: Path):
    with ProjectStore.open(review_project, read_only=True) as opened:
        yield opened


def detector_outcome() -> DetectorRetrainOutcome:
    def scores(model: str, ap50: float, precision: float, recall: float) -> DetectorScores:
        return DetectorScores(model, 3, 4, ap50, precision, recall, 0.7, 0.6)

    comparison = DetectorComparison(
        held_out=(scores("cell-detector", 0.31, 0.40, 0.50), scores("cell-detector-r2", 0.97, 0.96, 1.0)),
        original=(scores("cell-detector", 0.97, 0.95, 0.98), scores("cell-detector-r2", 0.96, 0.95, 0.98)),
        recommendation="Promote: white AP50 0.310 -> 0.970 on the held-out reviewed fields.",
        promote_advised=True,
    )
    return DetectorRetrainOutcome(version("cell-detector-r2", "candidate", "cell-detector"), comparison,
                                  log="fine-tuning\n", seconds=95.0, train_fields=7, held_out_fields=3,
                                  replay_fields=40)


def detector_dialog(qtbot, store: ProjectStore) -> RetrainDialog:
    dialog = RetrainDialog(None, store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_settings_tab_offers_the_detector_from_the_keyboard(qtbot, store: ProjectStore,
                                                                 registries: dict[str, FakeRegistry]) -> None:
    dialog = detector_dialog(qtbot, store)
    form = dialog.settings_form
    dialog.tabs.setCurrentWidget(form)
    dialog.activateWindow()  # mnemonics need the active window
    qtbot.waitUntil(dialog.isActiveWindow)
    assert [form.kind_combo.itemData(i) for i in range(form.kind_combo.count())] == ["classifier", "detector"]
    qtbot.keyClick(dialog, Qt.Key.Key_W, Qt.KeyboardModifier.AltModifier)
    assert dialog.focusWidget() is form.kind_combo
    qtbot.keyClick(form.kind_combo, Qt.Key.Key_Down)
    assert form.kind == DETECTOR and dialog.windowTitle() == "Retrain the Detector"
    assert form.detector_minutes.isVisible() and form.replay_fields.isVisible()
    assert not form.replay_edit.isVisible() and not form.min_examples.isVisible()
    # Start waits for the reviewed fields, not for the classifier's queue.
    qtbot.waitUntil(dialog.start_button.isEnabled)
    assert form.detector_fields.text() == "5 reviewed fields of 8 slides; boxes 2 deleted, 3 drawn."
    assert form.detector_settings().max_minutes == DetectorRetrainSettings().max_minutes


def test_a_detector_fine_tune_drives_progress_results_and_promotes_the_detector(
    qtbot, store: ProjectStore, registries: dict[str, FakeRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, DetectorRetrainSettings]] = []

    def job(project: Path, settings: DetectorRetrainSettings, _cancel: CancelToken,
            image_roots: ImageRoots) -> Job[DetectorRetrainOutcome]:
        """As core's detector job reports: epochs with a loss and no accuracy, log lines."""
        assert image_roots == store.image_roots  # the window's mapping of image folders goes along
        calls.append((project, settings))
        yield Progress(0, 3, "choosing the reviewed fields")
        for epoch in range(1, 4):
            yield Progress(epoch, 3, "", {"kind": "epoch", "epoch": epoch, "epochs": 3, "loss": 2.0 / epoch,
                                          "eta_seconds": 10.0 * (3 - epoch), "text": f"epoch {epoch}/3"})
            yield Progress(epoch, 3, "", {"kind": "log", "line": f"epoch {epoch} done"})
        return detector_outcome()

    monkeypatch.setattr(backend, "retrain_detector", job)
    forgotten: list[bool] = []
    monkeypatch.setattr(model_provider, "forget_loaded_models", lambda: forgotten.append(True))
    dialog = detector_dialog(qtbot, store)
    dialog.settings_form.set_kind(DETECTOR)
    dialog.settings_form.detector_minutes.setValue(2.5)
    promoted: list[str] = []
    dialog.promoted.connect(promoted.append)
    qtbot.waitUntil(dialog.start_button.isEnabled)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: not dialog.running and dialog.outcome is not None, timeout=10000)
    assert calls[0][0] == store.path and calls[0][1].max_minutes == 2.5
    training = dialog.training_tab
    assert len(training.points["loss"]) == 3 and "epoch 3 done" in training.log_view.toPlainText()
    assert training.progress.format() == "done" and not training.accuracy_plot.isVisibleTo(training)
    results = dialog.results_tab
    assert dialog.tabs.currentWidget() is results and not results.confusion_box.isVisible()
    table = results.metrics_table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, table.columnCount())]
            for r in range(table.rowCount())}
    assert rows["White AP50"][:2] == ["0.310", "0.970"] and rows["Fields"] == ["3", "3", "3", "3"]
    assert "cell-detector-r2" in results.recommendation.text() and "7 reviewed fields" in results.recommendation.text()
    registries["detector"].add(version("cell-detector-r2", "candidate", "cell-detector"))
    results.promote_button.click()
    assert registries["detector"].calls == [("promote", "cell-detector-r2")]
    assert registries["classifier"].calls == [] and forgotten and promoted == []  # the classifier is unchanged
    assert "current detector" in results.decision.text()


def test_too_few_reviewed_fields_leave_start_off_and_say_what_to_do(qtbot, store: ProjectStore,
                                                                     registries: dict[str, FakeRegistry],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from core.detection.project_fields import project_fields

    monkeypatch.setattr(backend, "detector_fields", project_fields)  # the real count of the review project
    dialog = detector_dialog(qtbot, store)
    form = dialog.settings_form
    form.set_kind(DETECTOR)
    qtbot.waitUntil(lambda: dialog.enough_fields is not None)
    slides = len(store.slides())
    assert form.detector_fields.text().startswith(f"0 reviewed fields of {slides} slides.")
    assert "needs at least 3" in form.detector_fields.text() and not dialog.start_button.isEnabled()
    form.set_kind("classifier")
    assert dialog.windowTitle() == "Retrain the Classifier"


def test_the_models_dialog_lists_and_promotes_detector_versions(qtbot,
                                                                registries: dict[str, FakeRegistry]) -> None:
    dialog = ModelsDialog()
    qtbot.addWidget(dialog)
    changed: list[Any] = []
    dialog.current_changed.connect(changed.append)
    assert [v.name for v in dialog.versions][0] == "hemalabel-wbc"
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("detector"))
    assert [v.name for v in dialog.versions] == ["cell-detector", "cell-detector-r1"]
    assert dialog.windowTitle() == "Detector Versions"
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert headers[-2:] == ["White AP50", "White precision"] and dialog.table.item(1, 6).text() == "0.970"
    dialog.select_name("cell-detector-r1")
    dialog.promote_selected()
    assert registries["detector"].calls == [("promote", "cell-detector-r1")] and registries["classifier"].calls == []
    assert "current detector" in dialog.status.text() and changed == []
