"""The retrain settings a technician sets once and expects next time (replay
folder, standard set, epochs…), kept in the app's one QSettings store
(app/gui/settings.py) under "retrain/".  Settings not shown in the dialog
(learning rate, hold-out fraction, seed) keep core's defaults."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

from app.gui.settings import app_qsettings
from core.retraining import RetrainSettings

# field -> type; the order is the form's
FIELDS: dict[str, type] = {
    "replay_path": str,
    "replay_per_class": int,
    "standard_set": str,
    "epochs": int,
    "max_minutes": float,
    "min_examples": int,
    "min_new_class_cells": int,
}


def load_settings(qsettings: QSettings | None = None) -> RetrainSettings:
    q = qsettings if qsettings is not None else app_qsettings()
    settings = RetrainSettings()
    for name, kind in FIELDS.items():
        raw = q.value(f"retrain/{name}")
        if raw is None:
            continue
        value = _convert(raw, kind)
        if value is not _BAD:
            setattr(settings, name, value)
    return settings


def save_settings(settings: RetrainSettings, qsettings: QSettings | None = None) -> None:
    q = qsettings if qsettings is not None else app_qsettings()
    for name in FIELDS:
        value = getattr(settings, name)
        q.setValue(f"retrain/{name}", "" if value is None else value)
    q.sync()


_BAD = object()


def _convert(raw: Any, kind: type) -> Any:
    # INI files hand every value back as a string; an empty path means "none".
    if kind is str:
        text = str(raw).strip()
        return text or None
    try:
        return kind(raw)
    except (TypeError, ValueError):
        return _BAD  # a hand-edited or stale value: keep core's default
