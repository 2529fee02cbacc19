"""Sign-off through the differential panel and its dialog: refused with the
store's reasons while Unidentified or unreviewed cells remain, signed below
the target count only with a reason, then signed with remembered initials,
then unlocked only with a reason."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from app.gui.dialogs.signoff_dialog import SETTINGS_INITIALS, SignOffDialog, remembered_initials  # noqa: E402
from app.gui.differential import DifferentialPanel  # noqa: E402
from app.gui.settings import app_qsettings  # noqa: E402
from core.schema import CellKind, SlideStatus  # noqa: E402
from core.store import ProjectStore  # noqa: E402


def test_sign_off_refused_while_unidentified_holds_cells(qtbot, review_store: ProjectStore) -> None:
    white = review_store.cells(1, kind=CellKind.WHITE)
    review_store.confirm([c.id for c in white if c.label != "unidentified"])
    dialog = SignOffDialog(None, review_store, 1)
    qtbot.addWidget(dialog)
    assert "1 cell is Unidentified" in dialog.error_text
    assert not dialog.accept_button.isEnabled()
    # Even if the button were pressed, the store refuses and the dialog says why.
    dialog._blocked = False
    dialog._accept()
    assert "cannot be signed off" in dialog.error_text and "Unidentified" in dialog.error_text
    assert review_store.slide(1).status is not SlideStatus.SIGNED_OFF


def test_panel_counts_sign_off_and_unlock(qtbot, review_store: ProjectStore) -> None:
    app_qsettings().setValue(SETTINGS_INITIALS, "JD")
    panel = DifferentialPanel(review_store, slide_id=1)
    qtbot.addWidget(panel)
    panel.show()
    count = panel.count
    assert count.counts["neutrophil"] == 3 and count.unidentified == 1 and count.platelets == 1
    assert "Not ready" in panel.state_label.text()
    assert panel.extra_values["unidentified"].text() == "1"

    white = review_store.cells(1, kind=CellKind.WHITE)
    unidentified = [c.id for c in white if c.label == "unidentified"]
    review_store.set_label(unidentified, "lymphocyte")
    review_store.confirm([c.id for c in white if c.id not in unidentified])
    qtbot.waitUntil(lambda: "6 of 100 white cells counted" in panel.state_label.text(), timeout=3000)
    assert "Ready" not in panel.state_label.text() and "needs a reason" in panel.state_label.text()
    assert panel.progress.value() == 6 and panel.progress.format().startswith("6 / 100")
    panel.set_target(6)
    assert panel.state_label.text() == "Ready to sign off: 6 of 6 white cells counted."

    qtbot.mouseClick(panel.sign_off_button, Qt.MouseButton.LeftButton)
    dialog = panel.active_dialog
    assert dialog is not None and dialog.initials_edit.text() == "JD" and not dialog.below_target
    qtbot.keyClick(dialog.accept_button, Qt.Key.Key_Return)
    slide = review_store.slide(1)
    assert slide.status is SlideStatus.SIGNED_OFF and slide.signed_off_by == "JD"
    qtbot.waitUntil(lambda: "Signed off by JD" in panel.subtitle.text(), timeout=3000)
    assert re.fullmatch(r"Signed off by JD at \d{4}-\d\d-\d\d \d\d:\d\d UTC", panel.subtitle.text())

    unlock = SignOffDialog(None, review_store, 1)
    qtbot.addWidget(unlock)
    assert unlock.unlocking and not unlock.accept_button.isEnabled()
    unlock.reason_edit.setText("lymphocyte count rechecked")
    assert unlock.accept_button.isEnabled()
    unlock.accept_button.click()
    assert review_store.slide(1).status is SlideStatus.IN_REVIEW
    actions = [(entry["action"], entry["who"], entry["reason"]) for entry in review_store.audit_trail(1)]
    assert actions == [("sign_off", "JD", ""), ("unlock", "JD", "lymphocyte count rechecked")]


def test_panel_shows_no_percentages_while_no_white_cell_is_counted(qtbot, review_store: ProjectStore) -> None:
    """0 of 0 is no share: the table shows a dash, not 0.0 for every class,
    and takes the figures up again once a cell counts."""
    white = review_store.cells(2, kind=CellKind.WHITE)
    review_store.set_label([c.id for c in white], "unidentified")
    panel = DifferentialPanel(review_store, slide_id=2)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.count.counted == 0
    assert {panel.table.item(row, 2).text() for row in range(panel.table.rowCount())} == {"–"}
    review_store.set_label([white[0].id], "monocyte")
    qtbot.waitUntil(lambda: panel.count.counted == 1, timeout=3000)
    shares = [panel.table.item(row, 2).text() for row in range(panel.table.rowCount())]
    assert "100.0" in shares and "–" not in shares


def test_initials_default_to_the_os_user_then_are_remembered(qtbot, review_store: ProjectStore, monkeypatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "tech7")
    assert remembered_initials() == "tech7"
    for cell in review_store.cells(2, kind=CellKind.WHITE):
        review_store.confirm([cell.id])
    dialog = SignOffDialog(None, review_store, 2, target=2)
    qtbot.addWidget(dialog)
    dialog.initials_edit.setText("MK")
    dialog.accept_button.click()
    assert review_store.slide(2).signed_off_by == "MK"
    assert remembered_initials() == "MK"


def test_a_count_short_of_the_target_is_signed_only_with_a_reason(qtbot, review_store: ProjectStore) -> None:
    """A field of a smear may hold a few white cells: signed, but with a
    reason typed (the field has the keys, Enter signs) and recorded."""
    review_store.confirm([c.id for c in review_store.cells(2, kind=CellKind.WHITE)])
    dialog = SignOffDialog(None, review_store, 2, target=100)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.isActiveWindow)
    assert not dialog.short_note.isHidden()
    assert (
        "2 of the 100 white cells" in dialog.short_note.text() and "50.0 percentage points" in dialog.short_note.text()
    )
    assert "needs a reason" in dialog.short_note.text()
    assert dialog.below_target_edit.isVisibleTo(dialog) and dialog.focusWidget() is dialog.below_target_edit
    assert not dialog.accept_button.isEnabled()
    qtbot.keyClick(dialog.below_target_edit, Qt.Key.Key_Return)  # no reason: Enter signs nothing
    assert review_store.slide(2).status is not SlideStatus.SIGNED_OFF
    # Even if the button were pressed without a reason, the store refuses and the dialog says why.
    dialog._accept()
    assert "2 of the 100 white cells" in dialog.error_text and "reason" in dialog.error_text
    assert review_store.slide(2).status is not SlideStatus.SIGNED_OFF

    again = SignOffDialog(None, review_store, 2, target=100)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(again.isActiveWindow)
    again.initials_edit.setText("JD")
    qtbot.keyClicks(again.below_target_edit, "thin smear, few cells")
    qtbot.keyClick(again.below_target_edit, Qt.Key.Key_Return)
    slide = review_store.slide(2)
    assert slide.status is SlideStatus.SIGNED_OFF
    assert (slide.signed_target, slide.below_target_reason) == (100, "thin smear, few cells")
    assert ("below_target", "JD", "2 of 100 white cells counted: thin smear, few cells") in [
        (entry["action"], entry["who"], entry["reason"]) for entry in review_store.audit_trail(2)]

    enough = SignOffDialog(None, review_store, 1, target=2)
    qtbot.addWidget(enough)
    assert enough.short_note.isHidden() and not enough.below_target_edit.isVisibleTo(enough)


def test_a_slide_with_no_white_cell_is_signed_only_with_a_reason(qtbot, review_store: ProjectStore) -> None:
    """A never-detected slide said "Ready to sign off" and was signed with 0 of 100."""
    review_store.remove_cells([c.id for c in review_store.cells(2)])
    panel = DifferentialPanel(review_store, slide_id=2)
    qtbot.addWidget(panel)
    assert panel.count.counted == 0
    assert "Ready" not in panel.state_label.text() and "0 of 100 white cells counted" in panel.state_label.text()
    panel.set_target(1)
    assert "0 of 1 white cells counted" in panel.state_label.text()  # no target makes nothing enough
    dialog = SignOffDialog(None, review_store, 2, target=100)
    qtbot.addWidget(dialog)
    assert "No white cell is counted" in dialog.short_note.text() and not dialog.accept_button.isEnabled()
    dialog.below_target_edit.setText("field without white cells, counted on another slide")
    assert dialog.accept_button.isEnabled()
    dialog.accept_button.click()
    assert review_store.slide(2).below_target_reason == "field without white cells, counted on another slide"


def test_enter_in_the_reviewer_or_reason_field_signs_off_or_unlocks(qtbot, review_store: ProjectStore) -> None:
    """Typing initials and Enter cancelled the dialog: the default button was
    set before it was in the dialog, so Enter pressed Cancel."""
    dialog = _signable_dialog(qtbot, review_store)
    dialog.initials_edit.setText("")
    dialog.initials_edit.setFocus()
    qtbot.keyClicks(dialog.initials_edit, "JD")
    qtbot.keyClick(dialog.initials_edit, Qt.Key.Key_Return)
    assert review_store.slide(2).status is SlideStatus.SIGNED_OFF
    unlock = SignOffDialog(None, review_store, 2)
    qtbot.addWidget(unlock)
    unlock.show()
    qtbot.keyClicks(unlock.reason_edit, "recount")
    qtbot.keyClick(unlock.reason_edit, Qt.Key.Key_Return)
    assert review_store.slide(2).status is not SlideStatus.SIGNED_OFF


def test_a_comment_typed_with_the_sign_off_reaches_the_slide_the_panel_and_the_next_sign_off(
    qtbot, review_store: ProjectStore
) -> None:
    panel = DifferentialPanel(review_store, slide_id=2)
    qtbot.addWidget(panel)
    dialog = _signable_dialog(qtbot, review_store)
    dialog.initials_edit.setText("JD")
    dialog.comment_edit.setFocus()
    qtbot.keyClicks(dialog.comment_edit, "RBC normocytic <5% schistocytes")
    qtbot.keyClick(dialog.comment_edit, Qt.Key.Key_Return)  # Enter signs off from the comment too
    assert review_store.slide(2).status is SlideStatus.SIGNED_OFF
    assert review_store.slide(2).comment == "RBC normocytic <5% schistocytes"
    qtbot.waitUntil(lambda: panel.subtitle.text().endswith("\nComment: RBC normocytic <5% schistocytes"), timeout=3000)
    assert panel.subtitle.textFormat() == Qt.TextFormat.PlainText  # typed text, never read as markup
    review_store.unlock(2, "JD", "recount")
    again = SignOffDialog(None, review_store, 2)
    qtbot.addWidget(again)
    assert again.comment_edit.text() == "RBC normocytic <5% schistocytes"  # kept through the unlock
    review_store.sign_off(2, "JD", "RBC normocytic", target=2)
    unlocking = SignOffDialog(None, review_store, 2)
    qtbot.addWidget(unlocking)
    assert unlocking.unlocking and not unlocking.comment_edit.isVisibleTo(unlocking)  # an unlock asks for a reason only


def _signable_dialog(qtbot, store: ProjectStore) -> SignOffDialog:  # noqa: ANN001
    """The sign-off dialog of slide 2, shown, with its white cells reviewed
    and its target their number, so that it can sign without a reason."""
    store.confirm([c.id for c in store.cells(2, kind=CellKind.WHITE)])
    dialog = SignOffDialog(None, store, 2, target=2)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog
