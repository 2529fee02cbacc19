"""One writer per project: an operating-system lock on a file beside it.

Why: the project keeps its undo history in the file, so two windows writing
one project undo each other's edits (the second window's Ctrl+Z reverses
the first one's latest label) and neither sees the other's changes.  A lab
meets this when a technician opens the same project twice, or when two
technicians open it from a shared drive.

Why an operating-system lock and not a marker file alone: the system drops
the lock when its process ends, crash and power cut included, so a project
is never left locked by a window that no longer exists.  The lock file also
holds who took the lock, so the second person is told whom to ask.  It is
named after the project (`slides.hemalabel.lock`) and removed on release.

Readers take no lock: SQLite in WAL mode lets them read while one
connection writes.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

LOCK_SUFFIX = ".lock"

# Windows locks byte ranges and forbids reading a locked range, so the lock
# covers one byte far past the holder's description.
_WINDOWS_LOCK_OFFSET = 1 << 30
_ATTEMPTS = 5  # a lock file replaced while we took it (its holder released it): try again


@dataclass(frozen=True)
class Holder:
    """Who holds a project's lock, as its lock file says."""

    user: str
    host: str
    pid: int
    since: str  # local time, ISO 8601, to the minute
    program: str

    def describe(self) -> str:
        where = "this computer" if self.host == socket.gethostname() else self.host
        return f"{self.program} (user {self.user} on {where}, process {self.pid}, since {self.since.replace('T', ' ')})"


class LockHeld(Exception):
    """The project is locked by another window or command."""

    def __init__(self, lock_path: Path, holder: Holder | None) -> None:
        self.lock_path = lock_path
        self.holder = holder
        who = holder.describe() if holder else "another program (it has not said who it is)"
        super().__init__(f"it is open for editing in {who}")


class ProjectLock:
    """The held lock of one project; `release` it (or close its store) when done."""

    def __init__(self, path: Path, stream: IO[bytes]) -> None:
        self.path = path
        self._stream: IO[bytes] | None = stream

    @classmethod
    def acquire(cls, project: Path, program: str) -> ProjectLock:
        """Lock `project` for writing or raise LockHeld.  `program` says in
        words what holds it ("the HemaLabel window", "hemalabel detect")."""
        path = lock_path_of(project)
        for _ in range(_ATTEMPTS):
            try:
                # Unbuffered: a holder that cannot be written (a full disk)
                # fails here, and leaves nothing for close() to fail on later.
                stream = open(path, "a+b", buffering=0)  # noqa: SIM115 (held open: it is the lock)
            except PermissionError:
                # Another user's lock file (a shared drive), which we may not
                # write: if nobody holds it, its editor crashed; clear it.
                if _removed_if_stale(path):
                    continue
                raise LockHeld(path, read_holder(path)) from None
            if not _try_lock(stream):
                stream.close()
                raise LockHeld(path, read_holder(path))
            if _still_named(stream, path):
                # A full disk: the lock holds all the same; others are told "another program".
                with contextlib.suppress(OSError):
                    _write_holder(stream, program)
                return cls(path, stream)
            stream.close()  # the holder removed this file as we locked it; lock the new one
        raise LockHeld(path, read_holder(path))

    def release(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        # Remove the file while still holding the lock (POSIX), so nobody is
        # told of a holder that has gone; Windows cannot remove an open file,
        # so there it goes after closing, if nobody has opened it meanwhile.
        if os.name != "nt":
            _remove(self.path)
        _unlock(stream)
        with contextlib.suppress(OSError):
            stream.close()
        if os.name == "nt":
            _remove(self.path)


def lock_path_of(project: Path) -> Path:
    return project.with_name(project.name + LOCK_SUFFIX)


def is_free(project: Path) -> bool:
    """Whether nobody holds the project's lock now: a probe that takes the
    lock and drops it at once, writing nothing (a read-only window asks
    this to learn when the project's editor has closed it)."""
    try:
        # Read-only: a lock needs no write access.
        stream = open(lock_path_of(project), "rb", buffering=0)  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return True  # removed by its last holder on release
    except OSError:
        return False
    with stream:
        if not _try_lock(stream):
            return False
        _unlock(stream)
        return True


def _removed_if_stale(path: Path) -> bool:
    """Remove a lock file that nobody holds, holding it meanwhile so that
    nobody takes it as it goes; False where it is held (or cannot be read)."""
    try:
        # Read-only: a lock needs no write access.
        stream = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return True  # gone already: try again
    except OSError:
        return False
    with stream:
        if not _try_lock(stream):
            return False
        try:
            path.unlink()
        except OSError:
            return False  # a folder that keeps others' files (sticky bit): it stays theirs
        finally:
            _unlock(stream)
        return True


def read_holder(path: Path) -> Holder | None:
    """The holder a lock file names, or None where it names nobody readable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            user=str(record["user"]),
            host=str(record["host"]),
            pid=int(record["pid"]),
            since=str(record["since"]),
            program=str(record["program"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_holder(stream: IO[bytes], program: str) -> None:
    holder = Holder(
        user=_user_name(),
        host=socket.gethostname(),
        pid=os.getpid(),
        since=datetime.now().isoformat(timespec="minutes"),
        program=program,
    )
    stream.seek(0)
    stream.truncate()
    stream.write(json.dumps(asdict(holder)).encode("utf-8"))


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in this environment (a service, a container)
        return "an unnamed user"


def _still_named(stream: IO[bytes], path: Path) -> bool:
    """Whether `path` still names the file we locked (POSIX: its holder may
    have removed it between our open and our lock)."""
    if os.name == "nt":
        return True  # an open file cannot be removed there
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(stream.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _remove(path: Path) -> None:
    # Already gone, or opened by the next holder (Windows): it is theirs now.
    with contextlib.suppress(OSError):
        path.unlink()


if sys.platform == "win32":
    import msvcrt

    def _try_lock(stream: IO[bytes]) -> bool:
        fd = stream.fileno()
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)

    def _unlock(stream: IO[bytes]) -> None:
        fd = stream.fileno()
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):  # closing the file drops it anyway
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(stream: IO[bytes]) -> bool:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError:
            # A file system without locks (some network mounts): the lock
            # cannot protect anything there, and refusing would make the
            # project unusable, so go on as before the lock existed.
            return True

    def _unlock(stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError):  # closing the file drops it anyway
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
