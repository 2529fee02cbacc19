"""The start-up hint that names the Linux packages Qt's window needs (no Qt here)."""

from __future__ import annotations

from app.platform_libraries import GUI_LIBRARIES, XCB_LIBRARIES, missing_libraries_hint, needed_libraries


def test_a_fresh_linux_machine_is_told_which_packages_to_install() -> None:
    absent = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    hint = missing_libraries_hint({}, loads=lambda soname: soname not in absent, platform="linux")
    assert hint is not None and "\n" not in hint
    assert hint.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-icccm.so.4" in hint


def test_nothing_is_said_when_everything_loads_or_off_linux() -> None:
    assert missing_libraries_hint({}, loads=lambda soname: True, platform="linux") is None
    for platform in ("win32", "darwin"):
        assert missing_libraries_hint({}, loads=lambda soname: False, platform=platform) is None


def test_xcb_libraries_are_needed_only_where_qt_will_use_xcb() -> None:
    assert set(needed_libraries({})) == set(GUI_LIBRARIES) | set(XCB_LIBRARIES)
    assert set(needed_libraries({"QT_QPA_PLATFORM": "xcb"})) == set(GUI_LIBRARIES) | set(XCB_LIBRARIES)
    assert set(needed_libraries({"QT_QPA_PLATFORM": "offscreen"})) == set(GUI_LIBRARIES)
    assert set(needed_libraries({"WAYLAND_DISPLAY": "wayland-0"})) == set(GUI_LIBRARIES)
    # The headless tests: a missing xcb library is no reason to speak.
    only_xcb_missing = lambda soname: soname not in XCB_LIBRARIES  # noqa: E731
    assert missing_libraries_hint({"QT_QPA_PLATFORM": "offscreen"}, loads=only_xcb_missing, platform="linux") is None


def test_the_check_loads_what_this_machine_has() -> None:
    """The real loader, on a library every Linux test machine has."""
    from app.platform_libraries import _loads

    assert not _loads("libhemalabel-no-such-library.so.9")
