"""Where bundled files live, in development and inside a PyInstaller bundle.

One place answers this so that the same code works from a checkout, from an
installed wheel and from a frozen bundle (where `sys._MEIPASS` is the root).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def install_root() -> Path:
    """The folder that holds resources/ and models/."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def resource_path(name: str) -> Path:
    return install_root() / "resources" / name


def bundled_models_dir() -> Path:
    override = os.environ.get("HEMALABEL_BUNDLED_MODELS")
    return Path(override) if override else install_root() / "models"


USER_MODELS_ENV = "HEMALABEL_MODELS_DIR"
USER_DATA_ENV = "HEMALABEL_DATA_DIR"


def user_data_dir() -> Path:
    """The user's own HemaLabel folder: HEMALABEL_DATA_DIR if set (tests),
    else the platform's per-user data folder.  What the app writes for the
    user (trained models, the sample project) goes here, never into the
    install, which may be read-only or, in a one-file bundle, temporary."""
    override = os.environ.get(USER_DATA_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("HemaLabel", appauthor=False))


def user_models_dir() -> Path:
    """Where models the user trained live: HEMALABEL_MODELS_DIR if set (tests,
    shared lab installs), else models/ in the user's data folder.  Bundled
    models are never written; a promoted model here wins over them."""
    override = os.environ.get(USER_MODELS_ENV)
    if override:
        return Path(override)
    return user_data_dir() / "models"
