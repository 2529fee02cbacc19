"""The look: Fusion with a calm light palette and a dark canvas, the way
slide viewers are usually set up so the stain colours read true."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = "#2f7fd8"

STYLE_SHEET = f"""
QMainWindow {{ background: #f4f6f8; }}
QToolBar {{ background: #fbfcfd; border: none; border-bottom: 1px solid #dde2e7; spacing: 1px; padding: 2px 4px; }}
QToolBar QToolButton {{ padding: 3px 6px; border-radius: 4px; color: #26313b; }}
QToolBar QToolButton:hover {{ background: #e8eef5; }}
QToolBar QToolButton:checked {{ background: #d6e6fa; color: #174a85; }}
QToolBar QToolButton:disabled {{ color: #a3acb5; }}
QToolBar QLabel {{ color: #5f6b76; padding: 0 4px 0 6px; }}
QDockWidget {{ font-weight: 600; }}
QDockWidget::title {{ background: #eef1f4; padding: 5px 8px; border-bottom: 1px solid #dde2e7; }}
QLabel#panelTitle {{ background: #fbfcfd; color: #5f6b76; font-weight: 700; padding: 5px 10px;
    border-bottom: 1px solid #e1e5e9; letter-spacing: 0.5px; }}
QLabel#sectionTitle {{ color: #5f6b76; font-weight: 700; padding-top: 2px; }}
QLabel#detailName {{ color: #5f6b76; }}
QLabel#cellHeading {{ font-size: 11pt; }}
QLabel#cropView {{ background: #24282c; border: 1px solid #c9d0d6; border-radius: 3px; color: #aab3bb; }}
QListView#slideList {{ background: #ffffff; border: none; }}
QWidget#inspector {{ background: #ffffff; }}
QPushButton#classButton {{ text-align: left; padding: 3px 6px; background: #f7f9fb; border: 1px solid #d9dee3;
    border-radius: 3px; }}
QPushButton#classButton:hover {{ background: #e8eef5; }}
QPushButton#classButton:disabled {{ color: #a3acb5; background: #f4f6f8; }}
QProgressBar {{ border: 1px solid #cfd6dc; border-radius: 3px; background: #f1f3f5; text-align: center;
    color: #26313b; font-size: 8pt; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 2px; }}
QStatusBar {{ background: #fbfcfd; border-top: 1px solid #dde2e7; color: #3b4650; }}
QStatusBar QLabel {{ color: #5f6b76; padding: 0 6px; }}
"""


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#f4f6f8"))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#26313b"))
    palette.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f4f6f8"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#26313b"))
    palette.setColor(QPalette.ColorRole.Button, QColor("#f7f9fb"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor("#26313b"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor("#26313b"))
    disabled = QColor("#a3acb5")
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    app.setPalette(palette)
    app.setStyleSheet(STYLE_SHEET)


_pyqtgraph_configured = False


def configure_pyqtgraph() -> None:
    """pyqtgraph's one configuration (STYLE.md 11): row-major image order, so
    numpy/OpenCV arrays are not shown transposed, and a light theme matching
    the window.  launch.py calls it at start-up, just after the first paint
    (importing pyqtgraph costs about half a second, which the window should
    not wait for); a plot made before that (a widget on its own, a test)
    calls it too.  Calling again does nothing."""
    global _pyqtgraph_configured
    if _pyqtgraph_configured:
        return
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="#1d2733")
    _pyqtgraph_configured = True


def whole_number_ticks(axis, largest: float, up_to: int) -> None:  # noqa: ANN001 - a pyqtgraph AxisItem
    """A tick at every whole number on an axis of counts or epochs while
    `largest` is at most `up_to`, pyqtgraph's own beyond: left to itself it
    labels a short axis 0.2, 0.4, ..., values a count never takes."""
    if largest <= up_to:
        axis.setTickSpacing(1, 1)
    else:
        axis.setTickSpacing()  # back to automatic
