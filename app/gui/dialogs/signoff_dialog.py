"""Sign a slide off with its differential count, or unlock a signed slide.

The count shown is the one that will be signed.  While the store would
refuse (Unidentified or unreviewed white cells) the dialog says
why, in the store's words, and offers no sign-off.  A count below the
target (none counted, too) is signed only with a reason, asked for in a
field of its own that has the keys first, so typing it and Enter signs.
The reviewer's initials are asked once and remembered, and the project's
edits are recorded under them from then on; the OS user is the first
suggestion.
"""

from __future__ import annotations

import getpass
import html
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.gui.settings import app_qsettings
from app.gui.user_identity import SETTINGS_INITIALS, remember_initials
from core.differential import DEFAULT_TARGET, Differential, differential
from core.schema import SlideStatus
from core.store import ProjectStore, SignOffRefusedError, StoreError
from core.wording import minute_utc


def remembered_initials() -> str:
    """The initials signed with last time, else the OS user name."""
    saved = app_qsettings().value(SETTINGS_INITIALS, "")
    if saved:
        return str(saved)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a container or a locked-down account
        return ""


class SignOffDialog(QDialog):
    """Signs off (or, for a signed slide, unlocks) `slide_id`.  `error_text`
    holds the last refusal shown."""

    def __init__(
        self, parent: QWidget | None, store: ProjectStore, slide_id: int, target: int = DEFAULT_TARGET
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.slide_id = slide_id
        self.target = target
        slide = store.slide(slide_id)
        self.unlocking = slide.status is SlideStatus.SIGNED_OFF
        self.count: Differential = differential(store.cells(slide_id), store.taxonomy)
        name = Path(slide.path).name
        self.setWindowTitle(f"Unlock {name}" if self.unlocking else f"Sign off {name}")
        self.setMinimumWidth(420)

        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>Sample {html.escape(slide.sample_id)}</b> ({html.escape(name)})")
        layout.addWidget(heading)
        layout.addLayout(self._count_grid())

        # Allowed with a reason (a field of a smear may hold few white cells),
        # and said: with few cells each one moves a class's percentage a long way.
        self.below_target = not self.unlocking and self.count.below_target(self.target)
        self.short_note = QLabel()
        self.short_note.setObjectName("signoffShortCount")
        self.short_note.setWordWrap(True)
        self.short_note.setStyleSheet("QLabel { color: #9a6100; }")
        counted = self.count.counted
        if self.below_target and counted:
            self.short_note.setText(
                f"{counted} of the {self.target} white cells targeted: one cell moves a class by "
                f"{100.0 / counted:.1f} percentage points, so these percentages are rough. "
                "Signing this count needs a reason, printed with it in the report."
            )
        elif self.below_target:
            self.short_note.setText(
                f"No white cell is counted (target {self.target}): signing a slide without a "
                "differential needs a reason, printed with it in the report."
            )
        self.short_note.setVisible(bool(self.short_note.text()))
        layout.addWidget(self.short_note)

        self.problem = QLabel()
        self.problem.setObjectName("signoffProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(
            "QLabel { background: #fdecea; color: #8a1c1c; border: 1px solid #f1b0aa; padding: 6px; }"
        )
        self.problem.setVisible(False)
        layout.addWidget(self.problem)

        form = QFormLayout()
        self.initials_edit = QLineEdit(remembered_initials())
        self.initials_edit.setMaxLength(40)
        self.initials_edit.setPlaceholderText("your initials")
        form.addRow("Reviewer", self.initials_edit)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("why the signed count must change")
        # What the count alone does not say (red cell and platelet morphology,
        # say); printed with the count in the report.  Kept through an unlock,
        # so signing off again starts from the comment given before.
        self.comment_edit = QLineEdit(slide.comment)
        self.comment_edit.setMaxLength(500)
        self.comment_edit.setPlaceholderText("optional, for the report: e.g. RBC normocytic, platelets adequate")
        self.below_target_edit = QLineEdit()
        self.below_target_edit.setObjectName("signoffBelowTargetReason")
        self.below_target_edit.setMaxLength(500)
        self.below_target_edit.setPlaceholderText(
            f"required below {self.target} cells: e.g. thin smear, few cells in the field")
        if self.unlocking:
            signed = QLabel(f"Signed off by {slide.signed_off_by} at {minute_utc(slide.signed_off_at)}")
            signed.setTextFormat(Qt.TextFormat.PlainText)  # typed initials, not markup
            layout.insertWidget(1, signed)
            form.addRow("Reason", self.reason_edit)
        else:
            if self.below_target:
                form.addRow("Why below target", self.below_target_edit)
            form.addRow("Comment", self.comment_edit)
        layout.addLayout(form)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.accept_button = self.buttons.addButton(
            "Unlock" if self.unlocking else "Sign off", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        # Only now, with the buttons in the dialog: told before, the dialog
        # never learnt its default, and Enter in the Reviewer field pressed
        # Cancel, so a technician who typed initials and Enter signed nothing.
        self.accept_button.setDefault(True)
        self.initials_edit.textChanged.connect(self._update_enabled)
        self.reason_edit.textChanged.connect(self._update_enabled)
        self.below_target_edit.textChanged.connect(self._update_enabled)

        # The cells named: a flag the technician cannot find would hold the slide back for good.
        blast_blocker = None if self.unlocking else store.blast_tally(slide_id).blocker(
            store.open_blast_flags(slide_id))
        blockers = [] if self.unlocking else self.count.blockers() + ([blast_blocker] if blast_blocker else [])
        if blockers:
            self._show_problem("Cannot sign off yet: " + "; ".join(blockers) + ".")
        self._blocked = bool(blockers)
        self._update_enabled()
        if self.unlocking:
            self.reason_edit.setFocus()
        elif self.below_target and not self._blocked:
            self.below_target_edit.setFocus()  # the one thing left to type before Enter signs
        else:
            self.accept_button.setFocus()

    @property
    def error_text(self) -> str:
        return "" if self.problem.isHidden() else self.problem.text()

    def _count_grid(self) -> QGridLayout:
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        taxonomy = self.store.taxonomy
        count = self.count
        row = 0
        for name, n in count.counts.items():
            grid.addWidget(QLabel(taxonomy.get(name).display), row, 0)
            grid.addWidget(_right(str(n)), row, 1)
            grid.addWidget(_right(f"{count.percent_text(name)} %" if count.counted else "–"), row, 2)
            row += 1
        nrbc = "–" if count.nrbc_per_100_wbc is None else f"{count.nrbc_per_100_wbc:.1f}"
        for text, value in (
            ("<b>White cells counted</b>",
             f"<b>{count.counted}</b>" + ("" if count.counted >= self.target else f" (target {self.target})")),
            ("NRBC per 100 WBC", nrbc),
            ("Platelets", str(count.platelets)),
        ):
            grid.addWidget(QLabel(text), row, 0)
            grid.addWidget(_right(value), row, 1, 1, 2)
            row += 1
        return grid

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(True)

    @Slot()
    def _update_enabled(self) -> None:
        who = bool(self.initials_edit.text().strip())
        if self.unlocking:
            self.accept_button.setEnabled(who and bool(self.reason_edit.text().strip()))
        else:
            reason_given = not self.below_target or bool(self.below_target_edit.text().strip())
            self.accept_button.setEnabled(who and not self._blocked and reason_given)

    @Slot()
    def _accept(self) -> None:
        who = self.initials_edit.text().strip()
        try:
            if self.unlocking:
                self.store.unlock(self.slide_id, who, self.reason_edit.text())
            else:
                self.store.sign_off(self.slide_id, who, self.comment_edit.text(), target=self.target,
                                    below_target_reason=self.below_target_edit.text())
        except SignOffRefusedError as refusal:
            # The store has the last word (another view may have changed a cell).
            self._blocked = True
            self._update_enabled()
            self._show_problem(str(refusal))
            return
        except StoreError as error:
            self._show_problem(str(error))
            return
        remember_initials(who, self.store)  # the initials signed with are whom later edits are recorded under
        self.accept()


def _right(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return label
