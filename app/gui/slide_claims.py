"""The window's claim on the slide it shows, on a server project several
stations review at once (core.store.claims): the slide on show is claimed,
left when another is shown, and all of them given back when the project
closes; a timer renews the claim.  Held by another station, the banner
says who and since when and offers Take Over…, and the slide is shown
read-only (the store refuses its edits, naming who holds it).

A file project has one station at a time (its lock): nothing to show, so
the window claims nothing there."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QInputDialog, QWidget

from app.gui.banner import Banner
from app.gui.session import ProjectSession
from core.store import ProjectStore, StoreError
from core.store.claims import HEARTBEAT_INTERVAL_S, ClaimHolder


def ask_take_over_reason(parent: QWidget, holder: ClaimHolder) -> str | None:
    """The technician's reason for taking the slide over (the audit trail
    keeps it); None when they cancelled."""
    text, accepted = QInputDialog.getText(
        parent, "Take over this slide",
        f"This slide is {holder.describe()}.\nTheir window will show it read-only from now on.\n\n"
        "Why are you taking it over? (kept in the audit trail)")
    return text.strip() if accepted else None


def claimed_words(holder: ClaimHolder) -> str:
    """"In review by AB on bench-2 since 10:42.": a sentence of its own."""
    words = holder.describe()
    return f"{words[:1].upper()}{words[1:]}."


class SlideClaims(QObject):
    """`held_elsewhere_changed(bool)` is called when the slide on show
    becomes (or stops being) another station's; `show_others` is given every
    slide other stations hold (the slide list marks them), at opening and
    at each beat; `show_message` takes what the status bar says."""

    def __init__(self, parent: QWidget, banner: Banner, show_message: Callable[[str], None],
                 held_elsewhere_changed: Callable[[bool], None],
                 show_others: Callable[[Mapping[int, ClaimHolder]], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._banner = banner
        self._show_message = show_message
        self._held_elsewhere_changed = held_elsewhere_changed
        self._show_others = show_others
        self._session: ProjectSession | None = None
        self.slide_id: int | None = None
        self.holder: ClaimHolder | None = None  # the other station holding the slide on show
        self._timer = QTimer(self)
        self._timer.setInterval(int(HEARTBEAT_INTERVAL_S * 1000))
        self._timer.timeout.connect(self.beat)
        banner.button.clicked.connect(self.take_over)

    @property
    def active(self) -> bool:
        """Claims are made here: a server project is open."""
        return self._session is not None and not self._session.store.is_file

    def set_session(self, session: ProjectSession | None) -> None:
        """A project opened (claims begin on its first slide) or closed (every
        claim of this window given back before the store closes)."""
        if self.active:
            self.follow(None)
        self._session = session
        self._timer.stop()
        if self.active:
            self._timer.start()
            self._look_at_others()

    def follow(self, slide_id: int | None) -> None:
        """The slide now on show: the one before is left, this one claimed."""
        if not self.active or slide_id == self.slide_id:
            return
        store = self._store()
        previous, self.slide_id = self.slide_id, slide_id
        try:
            if previous is not None:
                store.release(previous)
        except StoreError as error:
            self._show_message(str(error))  # the claim lapses by itself
        self._claim()

    def beat(self) -> None:
        """The timer's: renew this station's claims, and look again at who
        holds the slide on show (taken over meanwhile, or given back)."""
        if not self.active:
            return
        try:
            still_held = self._store().heartbeat()
        except StoreError as error:
            self._show_message(str(error))
            return
        if self.slide_id not in still_held:
            self._claim()  # not (or no longer) this station's: claim it, or hear who has it
        self._look_at_others()

    def recheck(self) -> None:
        """Look again at who holds the slide on show (it changed elsewhere:
        perhaps another station took it over)."""
        if self.active:
            self._claim()
            self._look_at_others()

    def take_over(self) -> None:
        """Take Over…: asks the reason, then takes the slide from whoever holds it."""
        if not self.active or self.slide_id is None or self.holder is None:
            return
        reason = ask_take_over_reason(self._parent, self.holder)
        if reason is None:
            return
        if not reason:
            self._show_message("Not taken over: taking over a slide needs a reason")
            return
        try:
            held = self._store().take_over(self.slide_id, reason)
        except StoreError as error:
            self._show_message(str(error))
            return
        who = f" from {held.who} on {held.workstation}" if held is not None else ""
        self._show_message(f"Took this slide over{who}; the audit trail keeps your reason")
        self._set_holder(None)

    def _look_at_others(self) -> None:
        try:
            self._show_others(self._store().claims_of_others())
        except StoreError as error:
            self._show_message(str(error))

    def _claim(self) -> None:
        if self.slide_id is None:
            self._set_holder(None)
            return
        try:
            holder = self._store().claim(self.slide_id)
        except StoreError as error:
            self._show_message(str(error))
            return
        self._set_holder(holder)

    def _set_holder(self, holder: ClaimHolder | None) -> None:
        changed = (holder is None) != (self.holder is None)
        self.holder = holder
        if holder is None:
            self._banner.hide_message()
        else:
            button = None if self._store().read_only else "Take Over\u2026"
            self._banner.show_message(
                f"<b>{html.escape(claimed_words(holder))}</b> You can look at this slide; it can be "
                "changed here only once it is left there or taken over.", "info", button)
        if changed:
            self._held_elsewhere_changed(holder is not None)

    def _store(self) -> ProjectStore:
        assert self._session is not None
        return self._session.store
