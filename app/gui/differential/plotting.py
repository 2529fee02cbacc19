"""pyqtgraph set up once for the whole application.

Row-major image order so numpy/OpenCV arrays are not shown transposed, and a
light theme that matches the rest of the window.  Call before the first plot
is made; calling again does nothing.
"""

from __future__ import annotations

_configured = False


def configure_pyqtgraph() -> None:
    global _configured
    if _configured:
        return
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w", foreground="#1d2733")
    _configured = True
