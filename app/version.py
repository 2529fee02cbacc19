"""The application's name and window title; its version is core's
(core.version), which the screen's cell cache also keys on."""

from __future__ import annotations

from core.version import app_version

__all__ = ["APP_NAME", "app_version", "window_title"]

APP_NAME = "HemaLabel"


def window_title(project: str | None = None, slide: str | None = None) -> str:
    """"HemaLabel 0.1.0", or "<project file> — <slide> — HemaLabel 0.1.0"
    with a project open: the version in the title is what a technician
    quotes when reporting a problem."""
    title = f"{APP_NAME} {app_version()}"
    names = [name for name in (project, slide) if name]
    return " \u2014 ".join([*names, title])
