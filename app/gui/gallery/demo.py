"""A window with the cell gallery and the differential panel side by side,
for trying them out before they live in the main window.

    uv run python -m app.gui.gallery.demo PROJECT [--slide ID] [--screenshot FILE.png]
"""

from __future__ import annotations

import argparse
import sys

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QStatusBar

from app.gui.differential import DifferentialPanel, configure_pyqtgraph
from app.gui.gallery import CellGallery
from core.store import ProjectStore, StoreError


class GalleryDemoWindow(QMainWindow):
    def __init__(self, store: ProjectStore) -> None:
        super().__init__()
        self.store = store
        self.setWindowTitle(f"HemaLabel: cell gallery ({store.path.name})")
        self.gallery = CellGallery(store, on_open_cell=self._open_cell)
        self.panel = DifferentialPanel(store)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.gallery)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 340])
        self.setCentralWidget(splitter)
        self.setStatusBar(QStatusBar())
        self.gallery.slide_filter_changed.connect(self.panel.set_slide)
        QShortcut(QKeySequence("Ctrl+Shift+S"), self, activated=self.panel.open_sign_off_dialog)

    def _open_cell(self, cell_id: int) -> None:
        cell = self.store.cell(cell_id)
        self.statusBar().showMessage(f"Would open cell {cell_id} on slide {cell.slide_id} (the canvas does this)", 5000)

    def closeEvent(self, event) -> None:  # noqa: ANN001
        self.gallery.shutdown()
        super().closeEvent(event)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.gui.gallery.demo", description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("--slide", type=int, help="show this slide's cells (default: every slide)")
    parser.add_argument("--screenshot", help="save the window to this PNG once thumbnails are in, then quit")
    parser.add_argument("--size", default="1280x800", help="window size, WxH")
    args = parser.parse_args(argv)
    QCoreApplication.setOrganizationName("HemaLabel")
    QCoreApplication.setApplicationName("HemaLabel")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_pyqtgraph()
    try:
        store = ProjectStore.open(args.project)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    window = GalleryDemoWindow(store)
    width, height = (int(v) for v in args.size.lower().split("x"))
    window.resize(width, height)
    if args.slide is not None:
        window.gallery.set_slide(args.slide)
    window.show()
    window.gallery.view.setFocus()
    if args.screenshot:
        def shoot(attempt: int = 0) -> None:
            if not window.gallery.thumbnails.idle and attempt < 100:
                QTimer.singleShot(100, lambda: shoot(attempt + 1))
                return
            window.grab().save(args.screenshot)
            window.close()

        QTimer.singleShot(500, shoot)
    code = app.exec()
    store.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
