"""Before the window starts on Linux: name the system packages Qt needs
that this machine lacks.

Qt's X11 plugin (xcb) links against libraries a minimal Linux install does
not have (libxcb-cursor0 since Qt 6.5, libxcb-icccm4, libxcb-keysyms1 ...);
without them Qt stops with "Could not load the Qt platform plugin xcb",
which names no package.  This module imports no Qt, so it can run before
Qt loads and print one line that does.  Windows and macOS need nothing."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# What QtGui itself loads, whatever the platform plugin: the soname each
# needs and the Debian/Ubuntu package that holds it.
GUI_LIBRARIES = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}
# What the xcb plugin adds (readelf -d on PySide6's libqxcb.so and
# libQt6XcbQpa.so.6), as Qt's "Qt for X11 requirements" lists them.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def _loads(soname: str) -> bool:
    """Whether the dynamic loader finds `soname` (and what it needs), as it
    will when Qt loads the plugin: the loader's own search, LD_LIBRARY_PATH
    and a bundle's folder included, in about a millisecond for all."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def needed_libraries(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The libraries the window will load here: QtGui's, and the xcb
    plugin's unless Qt is told to use another platform (offscreen, say) or
    will pick Wayland by itself."""
    environ = os.environ if environ is None else environ
    platform = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    uses_xcb = platform == "xcb" or (not platform and not environ.get("WAYLAND_DISPLAY"))
    return {**GUI_LIBRARIES, **XCB_LIBRARIES} if uses_xcb else dict(GUI_LIBRARIES)


def missing_libraries_hint(
    environ: Mapping[str, str] | None = None,
    loads: Callable[[str], bool] = _loads,
    platform: str | None = None,
) -> str | None:
    """One line naming the packages to install, or None when nothing is missing
    (and always on Windows and macOS)."""
    if not (platform or sys.platform).startswith("linux"):
        return None
    missing = {soname: package for soname, package in needed_libraries(environ).items() if not loads(soname)}
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(missing.values()))
    return (
        f"HemaLabel: the window needs system libraries this machine lacks ({', '.join(missing)}); "
        f"on Debian or Ubuntu: sudo apt-get install {packages}"
    )


def warn_if_missing() -> None:
    """Print the hint on stderr before Qt starts; Qt's own message follows
    if the window then cannot open."""
    hint = missing_libraries_hint()
    if hint:
        print(hint, file=sys.stderr)
