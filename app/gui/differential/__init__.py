"""The live differential count and the slide's sign-off."""

from app.gui.differential.panel import DifferentialPanel

__all__ = ["DifferentialPanel"]
