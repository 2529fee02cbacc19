"""What the window remembers between runs, through QSettings: recent
projects, window layout, the confidence threshold, which kinds are shown.
HEMALABEL_SETTINGS names an INI file to use instead (tests, benchmarks), so
they never touch a technician's real settings."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from core.store.address import ServerAddress, describe_location, is_server_address

_MAX_RECENT = 10


def app_qsettings() -> QSettings:
    """The one settings store: HEMALABEL_SETTINGS's INI file if set, else
    the user's own.  Every widget that remembers something (the
    differential's target, the reviewer's initials) asks this."""
    override = os.environ.get("HEMALABEL_SETTINGS")
    return QSettings(override, QSettings.Format.IniFormat) if override else QSettings("HemaLabel", "HemaLabel")


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings if qsettings is not None else app_qsettings()

    # ------------------------------------------------------------ recent projects
    def recent_projects(self) -> list[str]:
        value: Any = self._q.value("recent_projects", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent_project(self, path: str | os.PathLike[str] | ServerAddress) -> None:
        text = _project_text(path)
        recent = [text] + [p for p in self.recent_projects() if p != text]
        self._q.setValue("recent_projects", recent[:_MAX_RECENT])

    def clear_recent_projects(self) -> None:
        self._q.setValue("recent_projects", [])

    # ------------------------------------------------------------ where each project was left
    def last_slide(self, project: str | os.PathLike[str] | ServerAddress) -> int | None:
        """The slide on show when the project was last open here, if any."""
        try:
            return int(self._q.value(_project_key(project, "last_slide")))
        except (TypeError, ValueError):
            return None

    def set_last_slide(self, project: str | os.PathLike[str] | ServerAddress, slide_id: int) -> None:
        self._q.setValue(_project_key(project, "last_slide"), int(slide_id))

    # ------------------------------------------------------------ image folders
    def image_roots(self, project: str | os.PathLike[str] | ServerAddress, project_id: str | None) -> dict[str, str]:
        """This user's mapping of the project's image folders to this
        computer's (core.image_roots), {} when none or unreadable.  Kept
        under the project's id, so a moved or copied project keeps them;
        `project_id` None (an old file opened read-only): under its path."""
        key = self._image_roots_key(project, project_id)
        try:
            value = json.loads(str(self._q.value(key, "{}")))
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        return {str(old): str(new) for old, new in value.items()}

    def set_image_roots(self, project: str | os.PathLike[str] | ServerAddress, project_id: str | None,
                        roots: dict[str, str]) -> None:
        # JSON text: QSettings would turn a dict into a platform-specific map type.
        self._q.setValue(self._image_roots_key(project, project_id), json.dumps(roots))

    def _image_roots_key(self, project: str | os.PathLike[str] | ServerAddress, project_id: str | None) -> str:
        """The key of a project's mappings: by its id, moving over any that
        were kept under its path before projects had ids."""
        by_path = _project_key(project, "image_roots")
        if project_id is None:
            return by_path
        by_id = f"project_ids/{project_id}/image_roots"
        if not self._q.contains(by_id) and self._q.contains(by_path):
            self._q.setValue(by_id, self._q.value(by_path))
            self._q.remove(by_path)
        return by_id

    # ------------------------------------------------------------ layout
    def window_geometry(self) -> QByteArray | None:
        value = self._q.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._q.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    # ------------------------------------------------------------ review
    def confidence_threshold(self) -> float:
        """0 means: use each model's own calibrated threshold."""
        try:
            value: Any = self._q.value("review/confidence_threshold", 0.0)
            return min(max(float(value), 0.0), 1.0)
        except (TypeError, ValueError):
            return 0.0

    def set_confidence_threshold(self, value: float) -> None:
        self._q.setValue("review/confidence_threshold", float(value))

    def propose_on_import(self) -> bool:
        """Whether images added from a folder are detected and classified at
        once (Models > Propose Cells on Import); on unless turned off."""
        return str(self._q.value("review/propose_on_import", "true")).lower() in ("true", "1")

    def set_propose_on_import(self, on: bool) -> None:
        self._q.setValue("review/propose_on_import", bool(on))

    def learn_at_once(self) -> bool:
        """Whether each decision re-predicts the project's unreviewed cells
        and applies the reviewed boxes' lesson to their proposals (Models >
        Learn From Each Decision); on unless turned off."""
        return str(self._q.value("review/learn_at_once", "true")).lower() in ("true", "1")

    def set_learn_at_once(self, on: bool) -> None:
        self._q.setValue("review/learn_at_once", bool(on))

    def kind_visible(self, kind: str) -> bool:
        return str(self._q.value(f"review/show_{kind}", "true")).lower() in ("true", "1")

    def set_kind_visible(self, kind: str, visible: bool) -> None:
        self._q.setValue(f"review/show_{kind}", visible)

    def sync(self) -> None:
        self._q.sync()


def _project_key(project: str | os.PathLike[str] | ServerAddress, name: str) -> str:
    """A settings key of one project: by a digest of its resolved path (or
    its server address), as a path's slashes and colons are not safe in a
    key.  Kept in the user's settings, not the project: each technician
    returns to their own place, and a read-only project remembers it too."""
    digest = hashlib.sha1(_project_text(project).encode("utf-8")).hexdigest()[:16]
    return f"projects/{digest}/{name}"


def _project_text(project: str | os.PathLike[str] | ServerAddress) -> str:
    """A project as the settings keep it: its resolved path, or its server
    address with any password masked (the store refuses one anyway)."""
    if isinstance(project, ServerAddress) or is_server_address(project):
        return describe_location(project)
    return str(Path(project).resolve())
