"""A slide image drawn from a pyramid of levels in tiles, so a 20,000 x 20,000
scan pans smoothly: only the tiles in view, at the level that matches the
zoom, are ever turned into pixmaps, and at most a bounded number are kept."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.gui.imagery import rgb_to_qimage
from core.image_levels import ImageLevels

_TILE = 512
_MAX_CACHED_TILES = 160  # about 120 MB of pixmaps at most


class TiledImageItem(QGraphicsItem):
    def __init__(self) -> None:
        super().__init__()
        self._image: ImageLevels | None = None
        self._size = (0, 0)
        self._tiles: OrderedDict[tuple[int, int, int], QPixmap] = OrderedDict()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(-10)
        self.setCacheMode(QGraphicsItem.CacheMode.NoCache)

    def set_image(self, image: ImageLevels | None, width: int = 0, height: int = 0) -> None:
        """Show `image`; with None, an empty slide of the given size."""
        self.prepareGeometryChange()
        self._image = image
        self._tiles.clear()
        self._size = (width, height) if width and height else (image.width, image.height) if image else (0, 0)
        self.update()

    @property
    def image(self) -> ImageLevels | None:
        return self._image

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._size[0], self._size[1])

    def _tile_side(self) -> int:
        assert self._image is not None
        # One tile is enough for a microscope field; tiles only pay off for scans.
        single = len(self._image.levels) == 1 and max(self._image.width, self._image.height) <= 4096
        return max(self._image.width, self._image.height) if single else _TILE

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._image is None:
            painter.fillRect(self.boundingRect(), QColor("#3a3f44"))
            return
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        base = self._size[0] / max(1, self._image.width)  # 1 for a full image, 8 for a 1/8 preview
        level = 0 if lod <= 0 else int(math.floor(math.log2(max(1.0, 1.0 / (lod * base)))))
        level = min(level, len(self._image.levels) - 1)
        array = self._image.levels[level]
        # Level 0 may itself be reduced (a preview): scale every level to the slide.
        fx = self._size[0] / array.shape[1]
        fy = self._size[1] / array.shape[0]
        tile = self._tile_side()
        exposed = option.exposedRect.intersected(self.boundingRect())  # type: ignore[attr-defined]  # PySide6's stubs omit QStyleOption's fields
        if exposed.isEmpty():
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, lod < 3.0)
        tx0 = max(0, int(exposed.left() / fx) // tile)
        ty0 = max(0, int(exposed.top() / fy) // tile)
        tx1 = min((array.shape[1] - 1) // tile, int(exposed.right() / fx) // tile)
        ty1 = min((array.shape[0] - 1) // tile, int(exposed.bottom() / fy) // tile)
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                pixmap = self._tile(level, tx, ty, array, tile)
                target = QRectF(tx * tile * fx, ty * tile * fy, pixmap.width() * fx, pixmap.height() * fy)
                painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))

    def _tile(self, level: int, tx: int, ty: int, array: np.ndarray, tile: int) -> QPixmap:
        key = (level, tx, ty)
        pixmap = self._tiles.get(key)
        if pixmap is not None:
            self._tiles.move_to_end(key)
            return pixmap
        block = array[ty * tile : (ty + 1) * tile, tx * tile : (tx + 1) * tile]
        pixmap = QPixmap.fromImage(rgb_to_qimage(block))
        self._tiles[key] = pixmap
        while len(self._tiles) > _MAX_CACHED_TILES:
            self._tiles.popitem(last=False)
        return pixmap

    def cached_tiles(self) -> int:
        return len(self._tiles)


__all__ = ["TiledImageItem", "Qt"]
