"""The live differential count and the slide's sign-off."""

from app.gui.differential.panel import DifferentialPanel
from app.gui.differential.plotting import configure_pyqtgraph

__all__ = ["DifferentialPanel", "configure_pyqtgraph"]
