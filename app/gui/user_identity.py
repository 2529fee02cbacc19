"""The window's user: the initials the technician gave (at sign-off or in
File > Audit Trail), kept in the user's settings, else the system login.
Every project the window opens records its edits under this identity."""

from __future__ import annotations

from app.gui.settings import app_qsettings
from core.identity import MAX_INITIALS, Identity
from core.store import ProjectStore

SETTINGS_INITIALS = "review/initials"


def saved_initials() -> str:
    """The initials set last, or "" when none were ever set."""
    return str(app_qsettings().value(SETTINGS_INITIALS, "") or "").strip()


def window_identity() -> Identity:
    return Identity.of_this_computer(saved_initials())


def remember_initials(initials: str, store: ProjectStore | None = None) -> Identity:
    """Keep `initials` for this user and record `store`'s edits from now on
    under them (blank: the system login again)."""
    text = initials.strip()[:MAX_INITIALS]
    app_qsettings().setValue(SETTINGS_INITIALS, text)
    identity = Identity.of_this_computer(text)
    if store is not None:
        store.identity = identity
    return identity
