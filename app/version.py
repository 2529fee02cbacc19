"""The application's version, from the installed distribution's metadata
(pyproject.toml is its single source), falling back inside a frozen bundle."""

from __future__ import annotations

from importlib import metadata

APP_NAME = "HemaLabel"
_FALLBACK_VERSION = "0.1.0"


def app_version() -> str:
    try:
        return metadata.version("hemalabel")
    except metadata.PackageNotFoundError:
        return _FALLBACK_VERSION


def window_title(project: str | None = None, slide: str | None = None) -> str:
    """"HemaLabel 0.1.0", or "<project file> — <slide> — HemaLabel 0.1.0"
    with a project open: the version in the title is what a technician
    quotes when reporting a problem."""
    title = f"{APP_NAME} {app_version()}"
    names = [name for name in (project, slide) if name]
    return " \u2014 ".join([*names, title])
