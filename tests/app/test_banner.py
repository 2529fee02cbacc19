"""A banner shows its level's colours whatever the window names it."""

from __future__ import annotations

from PySide6.QtGui import QColor

from app.gui.banner import Banner


def test_a_renamed_banner_keeps_its_colours(qtbot) -> None:  # noqa: ANN001
    for name in ("banner", "readOnlyBanner"):
        banner = Banner()
        qtbot.addWidget(banner)
        banner.setObjectName(name)
        banner.show_message("Read-only: another window is editing this project", "warning")
        banner.resize(400, 40)
        banner.show()
        qtbot.waitExposed(banner)
        corner = banner.grab().toImage().pixelColor(3, 3)
        assert corner == QColor("#fff4d6"), (name, corner.name())
