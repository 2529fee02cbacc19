"""A random review session in the real window, run as a child process by
test_review_fuzz.py so that a crash inside Qt fails one test instead of
killing the test run.  It zooms, changes slides, deletes, undoes and
redoes, adds, moves and re-kinds boxes, switches to the gallery and back,
filters it, clicks, confirms, reclassifies and drops cells there, drags,
draws, wheels and nudges on the canvas, and paints in between.

Two things are checked.  The window must not crash: a box whose bounds
changed behind Qt's back (its handles follow the zoom) left stale entries
in the scene's index, and the window crashed within 400 steps of every
seed tried.  And after every step the gallery's rows must be those a full
regrouping gives: it mends them in place after most edits.

    python tests/app/review_fuzz.py FOLDER SEED STEPS

Prints "survived" at the end.  Any unexpected exception, raised in the
loop or in a slot or Qt virtual (which PySide hands to sys.excepthook and
goes on), ends the run with its traceback and exit status 1.
"""

from __future__ import annotations

import faulthandler
import os
import random
import sys
import traceback
from pathlib import Path
from types import TracebackType

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]

from conftest import make_slide_image  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDropEvent, QWheelEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.gui.gallery.model import CELL_IDS_MIME  # noqa: E402
from app.gui.launch import create_main_window, make_application  # noqa: E402
from core.schema import Box, CellKind, LabelSource, NewCell, SlideStatus  # noqa: E402
from core.store import ProjectStore  # noqa: E402

WINDOW_ACTIONS = ("zoom_in", "zoom_out", "fit", "zoom_actual", "next_slide", "previous_slide", "undo", "redo",
                  "gallery", "show_red", "show_white", "accept_all", "draw")
STEPS = (*WINDOW_ACTIONS, "delete", "add", "move", "kind", "tab", "class", "paint", "filter", "space", "end",
         "drag", "drag", "wheel", "double_click", "arrows", "tile_click", "tile_click", "drop", "enter")


def make_project(folder: Path, rng: random.Random) -> Path:
    path = folder / "fuzz.hemalabel"
    with ProjectStore.create(path) as store:
        for n in range(3):
            image = make_slide_image(folder / f"slide_{n}.png", 320, 240, seed=n)
            slide = store.add_slide(image, 320, 240)
            cells = []
            for _ in range(25):
                x, y = rng.uniform(0, 290), rng.uniform(0, 210)
                cells.append(NewCell(Box(x, y, x + rng.uniform(4, 40), y + rng.uniform(4, 40)),
                                     rng.choice(list(CellKind)), source=LabelSource.MODEL, score=0.9))
            store.add_cells(slide.id, cells)
    return path


def one_step(choice: str, controller, window, rng: random.Random) -> None:  # noqa: ANN001
    store = controller.session.store
    slide = controller.slide
    editable = slide is not None and store.slide(slide.id).status is not SlideStatus.SIGNED_OFF
    cells = store.cells(slide.id) if slide is not None else []
    if choice in WINDOW_ACTIONS:
        if window.actions[choice].isEnabled():
            window.actions[choice].trigger()
    elif choice == "delete" and editable and cells and not controller.review.gallery_active:
        controller.canvas.select(rng.choice(cells).id, reveal=rng.random() < 0.5)
        if window.actions["delete"].isEnabled():
            window.actions["delete"].trigger()
    elif choice == "add" and editable:
        x, y = rng.uniform(0, 300), rng.uniform(0, 220)
        box = Box(x, y, x + rng.uniform(2, 80), y + rng.uniform(2, 80))
        store.add_cells(slide.id, [NewCell(box, rng.choice(list(CellKind)), source=LabelSource.HUMAN)])
    elif choice == "move" and editable and cells:
        cell = rng.choice(cells)
        dx, dy = rng.uniform(-30, 30), rng.uniform(-10, 40)
        x0 = max(0.0, cell.box.x0 + dx)
        store.move_cell(cell.id,
                        Box(x0, cell.box.y0, max(x0 + 1, cell.box.x1 + dx), max(cell.box.y0 + 1, cell.box.y1 + dy)))
    elif choice == "kind" and editable and cells:
        store.set_kind([rng.choice(cells).id], rng.choice(list(CellKind)))
    elif choice in ("tab", "class", "enter"):
        if choice == "tab":
            key = Qt.Key.Key_Tab
        elif choice == "enter":  # draws a box in draw mode, confirms in the gallery
            key = Qt.Key.Key_Return
        else:
            key = rng.choice([Qt.Key.Key_0, Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_4])
        QTest.keyClick(QApplication.focusWidget() or window.view, key)
    elif choice == "paint":
        window.grab()
    elif choice == "filter" and controller.review.gallery is not None:
        gallery = controller.review.gallery
        combo, check = rng.choice([(gallery.slide_combo, None), (gallery.class_combo, None),
                                   (None, gallery.unreviewed_check), (None, gallery.confidence_check)])
        if combo is not None:
            combo.setCurrentIndex(rng.randrange(combo.count()))
        else:
            check.toggle()
            if check is gallery.confidence_check:
                gallery.confidence_spin.setValue(rng.randint(1, 100))
    elif choice in ("space", "end") and controller.review.gallery_active:
        QTest.keyClick(controller.review.gallery.view, Qt.Key.Key_Space if choice == "space" else Qt.Key.Key_End)
    elif choice in ("drag", "wheel", "double_click", "arrows") and not controller.review.gallery_active:
        mouse(choice, window.view, rng)
    elif choice in ("tile_click", "drop") and controller.review.gallery_active:
        gallery_mouse(choice, controller.review.gallery, rng)


def gallery_mouse(choice: str, gallery, rng: random.Random) -> None:  # noqa: ANN001
    """Clicks on tiles and headers (Ctrl and Shift extend, a double-click
    opens the cell on its slide), and drops of cells onto a group."""
    view = gallery.view
    area = view.viewport().rect()
    at = QPoint(rng.randrange(max(1, area.width())), rng.randrange(max(1, area.height())))
    if choice == "tile_click":
        modifier = rng.choice([Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier,
                               Qt.KeyboardModifier.ShiftModifier])
        if rng.random() < 0.15:
            QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, at)
        else:
            QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, modifier, at)
        return
    ids = gallery.model.shown_cell_ids()
    if not ids:
        return
    mime = QMimeData()
    mime.setData(CELL_IDS_MIME, ",".join(str(i) for i in rng.sample(ids, min(len(ids), rng.randint(1, 3)))).encode())
    view.dropEvent(QDropEvent(QPointF(at), Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))


def mouse(choice: str, view, rng: random.Random) -> None:  # noqa: ANN001
    """Drags (move, resize, rubber band; Shift draws), the wheel, double-clicks
    and Shift/Alt+arrows on the canvas, at random places of the viewport."""
    area = view.viewport().rect()

    def somewhere() -> QPoint:
        return QPoint(rng.randrange(max(1, area.width())), rng.randrange(max(1, area.height())))

    port = view.viewport()
    if choice == "drag":
        modifier = rng.choice([Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier,
                               Qt.KeyboardModifier.ControlModifier])
        start = somewhere()
        QTest.mousePress(port, Qt.MouseButton.LeftButton, modifier, start)
        for _ in range(rng.randint(1, 4)):
            QTest.mouseMove(port, somewhere())
        QTest.mouseRelease(port, Qt.MouseButton.LeftButton, modifier, somewhere())
    elif choice == "wheel":
        at = QPointF(somewhere())
        delta = rng.choice([120, -120, 240, -360])
        event = QWheelEvent(
            at,
            QPointF(port.mapToGlobal(at.toPoint())),
            QPoint(),
            QPoint(0, delta),
            Qt.MouseButton.NoButton,
            rng.choice([Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ControlModifier]),
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(port, event)
    elif choice == "double_click":
        QTest.mouseDClick(port, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, somewhere())
    else:
        modifier = rng.choice([Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.AltModifier])
        for _ in range(rng.randint(1, 5)):
            QTest.keyClick(
                view, rng.choice([Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down]), modifier
            )


def check_gallery(controller) -> None:  # noqa: ANN001
    """The rows mended in place after each edit are those a full regrouping gives."""
    gallery = controller.review.gallery
    if gallery is not None:
        model = gallery.model
        assert model._rows == model._build_rows(), "the gallery's rows differ from a regrouping"


def main() -> int:
    faulthandler.enable()
    # An exception in a slot or a Qt virtual (a drop, a paint) does not
    # reach the loop below: PySide hands it to sys.excepthook and goes on.
    raised: list[str] = []

    def record(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        raised.append("".join(traceback.format_exception(kind, error, trace)))
        print(raised[-1], file=sys.stderr)  # an exception in the loop itself ends the run here too

    sys.excepthook = record
    folder, seed, steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    # Run by hand, it toggles boxes and sets thresholds: not in the user's own settings.
    os.environ.setdefault("HEMALABEL_SETTINGS", str(folder / "settings.ini"))
    rng = random.Random(seed)
    project = make_project(folder, rng)
    app = make_application()
    window, controller = create_main_window()
    window.resize(1280, 800)
    window.show()
    assert controller.open_project(project)
    for _ in range(steps):
        one_step(rng.choice(STEPS), controller, window, rng)
        for _ in range(rng.randint(1, 6)):
            app.processEvents()
        check_gallery(controller)
        if raised:
            return 1
    controller.close_project()
    print("survived", steps, "steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
