"""Who edits a project, and where: the name every edit, sign-off and unlock
is recorded under, for the audit trail a lab's quality system asks for
(ISO 15189 traceability).

The user is the technician's initials where they set them (the window
asks at sign-off and remembers), else the system login; the workstation is
the computer's host name.  Nothing here is a proof of identity: the login
is the operating system's, and initials are what the person typed.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass

UNKNOWN_USER = "unknown"
MAX_INITIALS = 40  # the longest initials taken, by the window and by --user alike
# Edits saved before the history recorded anyone (schema version 4).
BEFORE_IDENTITY = "unknown (before v4)"


@dataclass(frozen=True, slots=True)
class Identity:
    """A user at a workstation, as the project's rows record them."""

    user: str
    workstation: str

    @classmethod
    def of_this_computer(cls, initials: str | None = None) -> Identity:
        """`initials` when given (blank counts as not given), else the
        system login; the workstation is this computer's host name."""
        user = (initials or "").strip() or system_login()
        return cls(user=user, workstation=socket.gethostname() or UNKNOWN_USER)

    def describe(self) -> str:
        return f"{self.user} on {self.workstation}"


def system_login() -> str:
    """The operating system's name for the person logged in.  getpass reads
    the environment first, then the password database; a container with
    neither still edits, under "unknown"."""
    try:
        return getpass.getuser() or UNKNOWN_USER
    except (KeyError, OSError):
        return UNKNOWN_USER
