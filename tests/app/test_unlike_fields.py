"""A slide the detector found unlike its training fields (issue 30): the
canvas says its proposals are unreliable, the slide list marks it, and the
other slides say nothing."""

from __future__ import annotations

import numpy as np
from conftest import wait_image
from fake_models import FakeClassifier, FakeDetector
from PySide6.QtCore import Qt

from app.gui import model_provider
from core.detection.familiarity import SLIDE_KEY, TURN_KEY, UNRELIABLE, FamiliarityReference
from core.store import ProjectStore

FLAGGED = {"unlike": True, "unlikeness": 4.2, "threshold": 1.8, "detector": "fake-detector-1"}


def test_the_banner_shows_on_a_flagged_slide_and_not_on_the_others(qtbot, open_window, project_path) -> None:
    with ProjectStore.open(project_path) as store:
        first, second = store.slides()[:2]
        store.update_slide_attributes(second.id, **{SLIDE_KEY: FLAGGED})
        store.update_slide_attributes(first.id, **{SLIDE_KEY: {**FLAGGED, "unlike": False}})
    window, controller = open_window(project_path)
    banner = window.proposals_banner
    controller.show_slide_id(first.id)
    wait_image(qtbot, controller)
    assert not banner.isVisible()
    controller.show_slide_id(second.id)
    wait_image(qtbot, controller)
    assert banner.isVisible() and UNRELIABLE in banner.label.text()
    assert banner.label.accessibleDescription() == f"{UNRELIABLE}."
    assert banner.label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByKeyboard
    model = window.slide_model
    tip = model.data(model.index(model.row_of(second.id)), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith(f"{UNRELIABLE}.")
    assert UNRELIABLE not in model.data(model.index(model.row_of(first.id)), Qt.ItemDataRole.ToolTipRole)
    controller.show_slide_id(first.id)
    wait_image(qtbot, controller)
    assert not banner.isVisible()


class UnlikeEverythingDetector(FakeDetector):
    """Its card's reference is a colourless field: every smear is unlike it."""

    familiarity = FamiliarityReference(np.zeros((4, 8)), np.ones(8), 1.0, 1.0, white_share=1.0, min_white=1)


def test_detecting_with_a_detector_that_finds_the_field_unlike_raises_the_banner(
    qtbot, open_window, project_path
) -> None:
    model_provider.use_models(detector=UnlikeEverythingDetector, classifier=FakeClassifier)
    try:
        window, controller = open_window(project_path)
        wait_image(qtbot, controller)
        assert not window.proposals_banner.isVisible()
        with qtbot.waitSignal(controller.models.finished, timeout=10000):
            window.actions["detect_slide"].trigger()
        qtbot.waitUntil(window.proposals_banner.isVisible)
        # Detected again by a detector without a reference: no verdict, no banner.
        model_provider.use_models(detector=FakeDetector, classifier=FakeClassifier)
        with qtbot.waitSignal(controller.models.finished, timeout=10000):
            window.actions["detect_slide"].trigger()
        qtbot.waitUntil(lambda: not window.proposals_banner.isVisible())
    finally:
        model_provider.use_models()


def test_a_slide_looked_at_in_turned_colours_says_so(qtbot, open_window, project_path) -> None:
    with ProjectStore.open(project_path) as store:
        first = store.slides()[0]
        store.update_slide_attributes(first.id, **{SLIDE_KEY: {**FLAGGED, TURN_KEY: "hues turned by 180\u00b0"}})
    window, controller = open_window(project_path)
    controller.show_slide_id(first.id)
    wait_image(qtbot, controller)
    banner = window.proposals_banner
    assert banner.isVisible() and UNRELIABLE in banner.label.text()
    assert "it looked for cells with the field's hues turned by 180\u00b0" in banner.label.text()
    model = window.slide_model
    tip = model.data(model.index(model.row_of(first.id)), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("Proposals found with the field's hues turned by 180\u00b0.")


def test_a_slide_looked_at_resized_says_so_in_the_slide_list(qtbot, open_window, project_path) -> None:
    from core.detection.magnification import SLIDE_KEY as MAGNIFICATION_KEY
    from core.detection.magnification import Magnification

    with ProjectStore.open(project_path) as store:
        first, second = store.slides()[:2]
        for slide, seen_at in ((first, Magnification(0.4, 250.0, 30, 2)), (second, Magnification(1.0, 100.0, 30, 1))):
            store.update_slide_attributes(slide.id, **{MAGNIFICATION_KEY: seen_at.to_attribute("d")})
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    model = window.slide_model
    tip = model.data(model.index(model.row_of(first.id)), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("Proposals found with the field looked at x0.40 (its red cells 250 px wide).")
    assert "looked at" not in model.data(model.index(model.row_of(second.id)), Qt.ItemDataRole.ToolTipRole)
