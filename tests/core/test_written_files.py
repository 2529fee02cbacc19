"""Files HemaLabel writes for others to read (exports, reports) get the
permissions any new file gets, not the owner-only ones of a temporary file."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from core.formats.common import atomic_copy, atomic_write_bytes
from tests.core.file_modes import default_file_mode

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def test_atomic_writes_and_copies_get_the_default_permissions(tmp_path: Path) -> None:
    written, copied = tmp_path / "out" / "a.xml", tmp_path / "out" / "b.png"
    atomic_write_bytes(written, b"<annotation/>")
    atomic_copy(written, copied)
    atomic_write_bytes(written, b"<annotation>again</annotation>", durable=True)  # over an old file
    for path in (written, copied):
        assert stat.S_IMODE(path.stat().st_mode) == default_file_mode()
    assert written.read_bytes() == b"<annotation>again</annotation>" and copied.read_bytes() == b"<annotation/>"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.xml", "b.png"]  # no temporary left
