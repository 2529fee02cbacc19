"""The lymphoid screen in the window, with fake models: the classify job
screens when the project's setting is on, a flag is marked on the box and
the tile, Suspected blasts is the gallery's first group, Alt+L and Alt+D
decide a flag, and sign-off waits for every flag."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wait_image
from fake_models import FakeClassifier, FakeDetector, FakeScreenModel
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from app.gui import model_provider
from app.gui.gallery.model import SUSPECTED_BLASTS, GroupHeader
from core.schema import BlastFlag, CellKind
from core.screen.settings import ScreenSettings, load_screen_settings, save_screen_settings
from core.store import ProjectStore
from core.taxonomy import BLAST


@pytest.fixture
def screened_project(review_project: Path) -> Path:
    with ProjectStore.open(review_project) as store:
        save_screen_settings(store, ScreenSettings(on=True, all_white=True))
    return review_project


@pytest.fixture
def with_screen():
    """Sets the fake detector and classifier beside the given screen model; the real ones again at teardown."""
    def use(screen) -> None:  # noqa: ANN001
        model_provider.use_models(detector=FakeDetector, classifier=FakeClassifier, screen=screen)
    yield use
    model_provider.use_models()


def _classify(qtbot, window, controller) -> str:  # noqa: ANN001
    with qtbot.waitSignal(controller.models.finished, timeout=10000) as finished:
        window.actions["classify_slide"].trigger()
    return str(finished.args[0])


def test_a_classified_slide_is_screened_marked_and_decided_by_keyboard(qtbot, open_window, screened_project,
                                                                        with_screen):
    with_screen(FakeScreenModel)
    window, controller = open_window(screened_project)
    wait_image(qtbot, controller)
    _classify(qtbot, window, controller)
    store = controller.session.store
    white = [c for c in store.cells(controller.slide.id) if c.kind is CellKind.WHITE]
    assert white and all(c.screen is not None and c.screen.flag is BlastFlag.SUSPECTED for c in white)
    qtbot.waitUntil(lambda: controller.canvas.item(white[0].id).look.suspected_blast)
    assert controller.canvas.item(white[0].id).look.tag.endswith("blast?")
    panel = controller.review.panel
    qtbot.waitUntil(lambda: panel.blast_label.isVisible())
    assert panel.blast_label.text() == f"Blasts suspected: {len(white)} of {len(white)} lymphoid cells"
    assert f"{len(white)} suspected blasts are not decided" in panel.state_label.text()

    controller.canvas.select(white[0].id)
    assert "Suspected blast, pre-B: P(blast) 90.0%" in window.inspector.heading.text()
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: store.cell(white[0].id).label == BLAST)
    assert "Blast added to the project's classes" in window.statusBar().currentMessage()
    # The new class has its key, its button and its row in the differential at once.
    assert window.inspector.class_buttons[BLAST].text() == "9  Blast"
    assert any(action.objectName() == f"class_{BLAST}" for action in window.findChildren(QAction))
    qtbot.waitUntil(lambda: controller.review.panel.count is not None
                    and controller.review.panel.count.counts.get(BLAST) == 1)
    assert BLAST in controller.review.panel._classes
    panel = controller.review.panel
    controller.canvas.select(white[1].id)
    qtbot.keyClick(window.view, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: store.cell(white[1].id).screen.flag is BlastFlag.DISMISSED)
    assert not controller.canvas.item(white[1].id).look.suspected_blast

    window.actions["gallery"].trigger()
    gallery = controller.review.gallery
    qtbot.waitUntil(lambda: gallery.model.rowCount() > 0)
    first = gallery.model.entry(0)
    assert isinstance(first, GroupHeader) and first.class_name == SUSPECTED_BLASTS
    assert first.display == "Suspected blasts" and first.shown == len(white) - 2
    gallery.select_cells([white[2].id])
    gallery.view.setFocus()
    qtbot.keyClick(gallery.view, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: store.cell(white[2].id).screen.flag is BlastFlag.DISMISSED)


def test_a_missing_screen_model_is_said_once_and_classifying_goes_on(qtbot, open_window, screened_project, with_screen):
    def missing() -> None:
        raise model_provider.ModelUnavailable("The lymphoid screen model could not be loaded: not found")

    with_screen(missing)
    window, controller = open_window(screened_project)
    wait_image(qtbot, controller)
    first = _classify(qtbot, window, controller)
    assert "the lymphoid screen is on but not run: The lymphoid screen model could not be loaded" in first
    assert "lymphoid screen" not in _classify(qtbot, window, controller)
    assert all(c.screen is None for c in controller.session.store.cells())
    assert all(c.label is not None for c in controller.session.store.cells(kind=CellKind.WHITE))


def test_the_settings_dialog_shows_what_the_card_measured_and_keeps_the_point(qtbot, review_store, monkeypatch):
    from types import SimpleNamespace

    from app.gui.dialogs import screen_settings_dialog
    from app.gui.dialogs.screen_settings_dialog import ScreenSettingsDialog

    card = SimpleNamespace(name="lymphoid-screen", version="1.0.0", blast_threshold=0.6198, target_recall=0.98,
                           metrics={"field_sensitivity": 0.9823, "field_specificity": 1.0, "validation_fields": 287})
    monkeypatch.setattr(screen_settings_dialog, "installed_screen_card", lambda: (card, ""))
    dialog = ScreenSettingsDialog(None, review_store)
    qtbot.addWidget(dialog)
    assert dialog.point.value() == pytest.approx(0.6198)
    assert dialog.measured.text().startswith("Sensitivity 98.2%, specificity 100.0% of 287 validation fields")
    dialog.on_box.setChecked(True)
    dialog.point.setValue(0.4)
    assert dialog.measured.text().startswith("Not measured at 0.4000")
    dialog.save()
    assert load_screen_settings(review_store) == ScreenSettings(on=True, all_white=False, operating_point=0.4)
    again = ScreenSettingsDialog(None, review_store)
    qtbot.addWidget(again)
    again.reset_button.click()
    again.save()
    assert load_screen_settings(review_store).operating_point is None


def test_without_a_screen_model_the_dialog_says_so(qtbot, review_store, monkeypatch):
    from app.gui.dialogs import screen_settings_dialog
    from app.gui.dialogs.screen_settings_dialog import ScreenSettingsDialog

    monkeypatch.setattr(screen_settings_dialog, "installed_screen_card",
                        lambda: (None, "screen model 'lymphoid-screen' not found (looked in models)"))
    dialog = ScreenSettingsDialog(None, review_store)
    qtbot.addWidget(dialog)
    assert dialog.model_label.text().startswith("Not installed: screen model 'lymphoid-screen' not found")
    assert dialog.measured.text() == "Nothing measured: no screen model is installed."


def test_the_sign_off_dialog_names_the_undecided_flags(qtbot, review_store):
    from app.gui.dialogs.signoff_dialog import SignOffDialog

    white = [c.id for c in review_store.cells(1) if c.kind is CellKind.WHITE]
    review_store.record_screen(1, [(white[0], 0.9, "pre", True), (white[1], 0.8, "pro", True)], "fake-screen 1")
    dialog = SignOffDialog(None, review_store, 1)
    qtbot.addWidget(dialog)
    assert f"2 suspected blasts are not decided (cells {white[0]}, {white[1]})" in dialog.error_text
    assert not dialog.accept_button.isEnabled()


def test_a_flagged_cell_marked_red_holds_back_no_sign_off(qtbot, review_store):
    from app.gui.dialogs.signoff_dialog import SignOffDialog
    from core import review

    white = [c.id for c in review_store.cells(1) if c.kind is CellKind.WHITE]
    review_store.record_screen(1, [(white[0], 0.9, "pre", True), (white[1], 0.8, "pro", True)], "fake-screen 1")
    review.set_kind(review_store, [white[0]], CellKind.RED)
    dialog = SignOffDialog(None, review_store, 1)
    qtbot.addWidget(dialog)
    assert f"1 suspected blast is not decided (cell {white[1]})" in dialog.error_text


def test_a_card_with_its_validation_scores_measures_any_operating_point(qtbot, review_store, monkeypatch):
    from types import SimpleNamespace

    from app.gui.dialogs import screen_settings_dialog
    from app.gui.dialogs.screen_settings_dialog import ScreenSettingsDialog

    scores = {"malignant": [0.3, 0.5, 0.7, 0.9], "benign": [0.1, 0.2, 0.45, 0.6]}
    card = SimpleNamespace(name="lymphoid-screen", version="1.1.0", blast_threshold=0.5, target_recall=0.75,
                           metrics={"validation_field_scores": scores, "validation_fields": 8})
    monkeypatch.setattr(screen_settings_dialog, "installed_screen_card", lambda: (card, ""))
    dialog = ScreenSettingsDialog(None, review_store)
    qtbot.addWidget(dialog)
    assert dialog.measured.text().startswith("Sensitivity 75.0%, specificity 75.0% of 8 validation fields")
    dialog.point.setValue(0.25)
    assert dialog.measured.text().startswith("Sensitivity 100.0%, specificity 50.0% of 8 validation fields")


def test_the_class_filter_shows_the_undecided_flags_alone_reached_by_keyboard(qtbot, open_window, review_project):
    from app.gui.gallery.model import GroupHeader
    from core import review

    with ProjectStore.open(review_project) as store:
        white = [c.id for c in store.cells(1) if c.kind is CellKind.WHITE]
        store.record_screen(1, [(white[0], 0.9, "pre", True), (white[1], 0.2, "pro", False),
                                (white[2], 0.8, "early", True), (white[3], 0.7, "pre", True)], "fake-screen 1")
        review.dismiss_blast(store, [white[2]])
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    window.actions["gallery"].trigger()
    gallery = controller.review.gallery
    qtbot.waitUntil(lambda: gallery.model.rowCount() > 0)
    gallery.activateWindow()
    gallery.view.setFocus()
    qtbot.waitUntil(gallery.view.hasFocus)
    qtbot.keyClick(gallery.view, Qt.Key.Key_C, Qt.KeyboardModifier.AltModifier)
    assert gallery.class_combo.hasFocus()
    qtbot.keyClick(gallery.class_combo, Qt.Key.Key_Down)  # All classes -> Suspected blasts
    assert gallery.class_combo.currentText() == "Suspected blasts"
    assert gallery.model.filter.class_name == SUSPECTED_BLASTS and gallery.view.hasFocus()
    assert sorted(gallery.model.shown_cell_ids()) == [white[0], white[3]]
    headers = [gallery.model.entry(row) for row in range(gallery.model.rowCount()) if gallery.model.is_header(row)]
    assert [(h.class_name, h.shown) for h in headers if isinstance(h, GroupHeader)] == [(SUSPECTED_BLASTS, 2)]

    # A decided flag leaves the list; the technician goes on with the next.
    gallery.select_cells([white[0]])
    qtbot.keyClick(gallery.view, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: gallery.model.shown_cell_ids() == [white[3]])
    assert controller.session.store.cell(white[0]).screen.flag is BlastFlag.DISMISSED


def test_classifying_with_the_screen_off_says_which_open_flags_it_kept(qtbot, open_window, review_project, with_screen):
    with ProjectStore.open(review_project) as store:
        white = [c.id for c in store.cells(1) if c.kind is CellKind.WHITE]
        store.record_screen(1, [(white[0], 0.9, "pre", True), (white[1], 0.8, "pro", True)], "fake-screen 1")
    with_screen(FakeScreenModel)
    window, controller = open_window(review_project)
    wait_image(qtbot, controller)
    said = _classify(qtbot, window, controller)
    assert "2 cells keep an open blast flag from an earlier screen; sign-off waits until each is decided" in said
    store = controller.session.store
    assert [store.cell(cell_id).screen.flag for cell_id in white[:2]] == [BlastFlag.SUSPECTED] * 2
    assert store.cell(white[2]).screen is None  # the screen is off: nothing new was screened
