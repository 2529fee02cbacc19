"""The safety net for a bug: an exception nothing caught, raised in a Qt
slot or event handler, is shown and written down instead of vanishing.

Why: PySide prints such an exception on stderr and carries on, and the
bundled application on Windows and macOS has no console, so the technician
would press a key, see nothing happen and not know whether the work was
saved.  Every edit is saved as it is made (core/store/), so the message
can say what is safe; the traceback goes to a log file that the person who
looks after HemaLabel can ask for."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

LOG_DIR_ENV = "HEMALABEL_LOG_DIR"


def log_path() -> Path:
    """errors.log in HEMALABEL_LOG_DIR if set (tests), else the platform's
    per-user log folder."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override) / "errors.log"
    import platformdirs

    return Path(platformdirs.user_log_dir("HemaLabel", appauthor=False)) / "errors.log"


class UnexpectedErrorReporter:
    """Installed as sys.excepthook while the window is up."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self._open_box: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self

    def __call__(self, kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        details = "".join(traceback.format_exception(kind, error, trace))
        sys.stderr.write(details)
        written = _append_to_log(details)
        self._show(f"{kind.__name__}: {error}", written)

    def _show(self, summary: str, log: Path | None) -> None:
        if self._open_box is not None:
            return  # one dialog at a time: a failing paint would otherwise stack hundreds
        where = f"The details are in {log}." if log is not None else "The details could not be written to a log file."
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Something went wrong",
            f"HemaLabel met an error it did not expect:\n{summary}\n\n"
            "Every edit made before it is saved in the project. The action that failed may not have "
            f"finished; check it before going on. {where} Please send them to whoever looks after HemaLabel.",
            QMessageBox.StandardButton.Ok,
            self._parent,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._closed)
        self._open_box = box
        box.open()

    def _closed(self, _result: int) -> None:
        self._open_box = None


def _append_to_log(details: str) -> Path | None:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now().isoformat(timespec='seconds')}\n{details}\n")
    except OSError:
        return None
    return path
