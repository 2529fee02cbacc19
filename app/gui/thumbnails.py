"""Slide thumbnails, made lazily in the background: only slides the browser
actually paints are asked for, and one worker job at a time decodes them at
reduced size.  Results are cached for the session.

The gallery keeps its own cache of cell crops (gallery/thumbnails.py, which
says why the two differ); both run their work through worker.py."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPixmap

from app.gui.imagery import ImageShown, rgb_to_qimage
from app.gui.worker import JobHandle, start_job
from core.imaging import ImageRead, ImageState, read_thumbnail, try_read
from core.jobs import CancelToken, Progress

THUMBNAIL_SIDE = 96


def _read_thumbnail(path: Path) -> np.ndarray:
    return read_thumbnail(path, THUMBNAIL_SIDE)


def _thumbnail_job(batch: list[tuple[int, Path]], token: CancelToken) -> Generator[Progress, None, None]:
    for index, (slide_id, path) in enumerate(batch, start=1):
        token.raise_if_cancelled()
        try:
            read = try_read(_read_thumbnail, path)
        except Exception as error:  # an odd file must not stop the other thumbnails
            read = ImageRead(ImageState.UNREADABLE, reason=str(error))
        yield Progress(index, len(batch), "", payload=(slide_id, path, read))


class ThumbnailLoader(QObject):
    ready = Signal(int)  # slide id whose thumbnail (or failure) is now known
    failed = Signal(int, object, str)  # slide id, ImageShown, reason

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pixmaps: dict[int, QPixmap] = {}
        self._failures: dict[int, str] = {}
        self._pending: dict[int, Path] = {}
        self._requested: dict[int, Path] = {}  # what each slide's thumbnail should show
        self._job: JobHandle | None = None

    def pixmap(self, slide_id: int) -> QPixmap | None:
        return self._pixmaps.get(slide_id)

    def failure(self, slide_id: int) -> str | None:
        return self._failures.get(slide_id)

    def request(self, slide_id: int, path: Path) -> None:
        if slide_id in self._pixmaps or slide_id in self._failures or slide_id in self._pending:
            return
        self._pending[slide_id] = path
        self._requested[slide_id] = path
        self._kick()

    def forget(self, slide_id: int) -> None:
        self._pixmaps.pop(slide_id, None)
        self._failures.pop(slide_id, None)
        self._requested.pop(slide_id, None)
        self._pending.pop(slide_id, None)

    def clear(self) -> None:
        self.cancel()
        self._pixmaps.clear()
        self._failures.clear()
        self._pending.clear()
        self._requested.clear()

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _kick(self) -> None:
        if self._job is not None or not self._pending:
            return
        batch = list(self._pending.items())
        self._job = start_job(
            "Thumbnails",
            lambda token: _thumbnail_job(batch, token),
            self,
            on_progress=self._on_progress,
            on_finished=self._on_finished,
        )

    def _on_progress(self, progress: Progress) -> None:
        slide_id, path, read = progress.payload
        if self._requested.get(slide_id) != path:
            return  # the slide was relocated (or the project closed) meanwhile
        self._pending.pop(slide_id, None)
        if read.image is not None:
            self._pixmaps[slide_id] = QPixmap.fromImage(rgb_to_qimage(read.image))
            self.ready.emit(slide_id)
        else:
            self._failures[slide_id] = read.reason
            self.failed.emit(slide_id, ImageShown.of(read.state), read.reason)
            self.ready.emit(slide_id)

    def _on_finished(self) -> None:
        self._job = None
        self._kick()
