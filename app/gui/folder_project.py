"""Where the project of a plain folder of images goes: asked, never written
into the image folder unasked.  Images are referenced, not copied (DESIGN),
and a folder of a microscope's fields may be on a share the lab keeps
read-only, or one that other software watches for new files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from core.store import PROJECT_SUFFIX, folder_is_writable


def default_project_file(folder: Path) -> Path:
    """"<folder>.hemalabel" beside the folder (above its images, so the
    paths stay relative and the two move together), else in the user's
    documents where the folder's parent cannot be written."""
    name = f"{folder.name or 'project'}{PROJECT_SUFFIX}"
    parent = folder.resolve().parent
    if parent != folder.resolve() and folder_is_writable(parent):
        return parent / name
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents or Path.home()) / name


def ask_project_file(parent: QWidget | None, folder: Path) -> Path | None:
    """The project file the technician chooses for `folder` (None: cancelled).
    An existing project chosen is opened, not replaced, so the dialog does
    not ask to overwrite it."""
    path, _ = QFileDialog.getSaveFileName(
        parent,
        f"Save the project for {folder.name} as",
        str(default_project_file(folder)),
        f"HemaLabel projects (*{PROJECT_SUFFIX})",
        options=QFileDialog.Option.DontConfirmOverwrite,
    )
    if not path:
        return None
    chosen = Path(path)
    return chosen if chosen.suffix == PROJECT_SUFFIX else chosen.with_name(chosen.name + PROJECT_SUFFIX)
