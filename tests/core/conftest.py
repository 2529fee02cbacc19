from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.store import folder_is_writable


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make a folder and its files really unwritable.  chmod is enough for a
    normal user; root ignores modes, so there the immutable attribute is used."""
    paths = [folder, *folder.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    immutable = False
    for path in paths:
        path.chmod(modes[path] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    if folder_is_writable(folder) and shutil.which("chattr"):
        result = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True)
        immutable = result.returncode == 0
    try:
        if folder_is_writable(folder):
            pytest.skip("cannot make a folder read-only on this machine")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)
        for path, mode in modes.items():
            os.chmod(path, mode)


@pytest.fixture
def read_only_folder():
    return _read_only
