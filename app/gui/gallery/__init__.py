"""The cell gallery: crops of every white cell grouped by class."""

from app.gui.gallery.gallery_widget import CellGallery
from app.gui.gallery.model import GalleryFilter, GalleryModel

__all__ = ["CellGallery", "GalleryFilter", "GalleryModel"]
