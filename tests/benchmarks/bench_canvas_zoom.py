"""Zooming a scan covered in boxes: the time from a zoom step to the frame
on screen, fitted to the window, where every box is painted.  A 4000x3000
slide with BOXES cells (red cells, white cells and platelets in a grid, as
after Detect on a tiled scan; Detect found 2,323 on a 7680x5760 scan tiled
from BCCD fields).

Baseline in the same run: the boxes' pens made afresh at every paint, as
before they were made once per look (app/gui/canvas/cell_item.py).

    xvfb-run -a uv run python tests/benchmarks/bench_canvas_zoom.py [BOXES]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from _bench_common import ROOT  # noqa: F401  (puts the project on sys.path)

STEPS = 12
ROUNDS = 3


def make_scan_project(work: Path, boxes: int) -> Path:
    import cv2
    import numpy as np

    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.store import ProjectStore

    image = work / "scan.png"
    cv2.imwrite(str(image), np.full((3000, 4000, 3), (200, 180, 215), np.uint8))
    project = work / "scan.hemalabel"
    per_row = int((boxes * 4 / 3) ** 0.5) + 1
    cells = []
    for n in range(boxes):
        x, y = 10 + (n % per_row) * (3980 / per_row), 10 + (n // per_row) * (2980 / (boxes / per_row + 1))
        kind = CellKind.WHITE if n % 40 == 0 else CellKind.PLATELET if n % 13 == 0 else CellKind.RED
        side = 90 if kind is CellKind.WHITE else 25 if kind is CellKind.PLATELET else 55
        label = "neutrophil" if kind is CellKind.WHITE else "platelet" if kind is CellKind.PLATELET else None
        cells.append(NewCell(Box(x, y, x + side, y + side), kind, label=label, source=LabelSource.MODEL, score=0.9))
    with ProjectStore.create(project) as store:
        slide = store.add_slide(image, 4000, 3000)
        store.add_cells(slide.id, cells)
    return project


def main() -> int:
    boxes = int(sys.argv[1]) if len(sys.argv) > 1 else 2323
    work = Path(tempfile.mkdtemp(prefix="hemalabel-zoom-"))
    project = make_scan_project(work, boxes)

    from app.gui import worker
    from app.gui.canvas import cell_item
    from app.gui.launch import create_main_window, make_application

    app = make_application()
    window, controller = create_main_window()
    window.resize(1440, 900)
    window.show()
    controller.open_project(project)

    def settle(seconds: float) -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until or worker.active_jobs() or controller.canvas.image_state[0] != "ok":
            app.processEvents()
            time.sleep(0.002)

    settle(0.5)
    assert len(window.view.scene().items()) >= boxes

    def zoom_steps() -> float:
        window.actions["fit"].trigger()
        settle(0.2)
        times = []
        for n in range(STEPS):
            started = time.perf_counter()
            window.actions["zoom_in" if n % 2 == 0 else "zoom_out"].trigger()
            window.view.viewport().repaint()  # the frame the technician sees
            times.append((time.perf_counter() - started) * 1000)
            settle(0.03)
        return statistics.median(times)

    cached_pen = cell_item._pen
    fresh_pen = cached_pen.__wrapped__  # the same pen, made at every call

    cached, fresh = [], []
    for _ in range(ROUNDS):  # interleaved, so a slower moment of the machine hits both
        cell_item._pen = fresh_pen  # type: ignore[assignment]  # the baseline, swapped in for a round
        fresh.append(zoom_steps())
        cell_item._pen = cached_pen
        cached.append(zoom_steps())
    window.close()
    print(f"zoom step to frame, {boxes} boxes fitted in a 1440x900 window: median {statistics.median(cached):.0f} ms "
          f"(rounds {', '.join(f'{v:.0f}' for v in cached)}); pens made at every paint (before): "
          f"{statistics.median(fresh):.0f} ms (rounds {', '.join(f'{v:.0f}' for v in fresh)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
