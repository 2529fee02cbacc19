"""The application's version, from the installed distribution's metadata
(pyproject.toml is its single source), falling back inside a frozen bundle,
which keeps no metadata."""

from __future__ import annotations

from importlib import metadata

_FALLBACK_VERSION = "0.1.0"


def app_version() -> str:
    try:
        return metadata.version("hemalabel")
    except metadata.PackageNotFoundError:
        return _FALLBACK_VERSION
