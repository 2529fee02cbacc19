"""The permission bits a new file gets here, for tests that check that what
HemaLabel writes for others to read is as readable as any new file."""

from __future__ import annotations

import os


def default_file_mode() -> int:
    """0o666 less the process's umask (POSIX), which can only be read by setting it."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
