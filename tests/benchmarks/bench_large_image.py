"""A 20,000 x 20,000 pixel scan: time to open it, memory held, and frame
times while panning at 100 % and at a fitted zoom.

    xvfb-run -a uv run python tests/benchmarks/bench_large_image.py [SIDE]

The image (a BCCD field tiled to size, or a generated one) is written once to
the temporary folder.  The slide is added with store.add_slide because the
import path probes images with Pillow, whose decompression-bomb guard refuses
anything this large; the viewer decodes it with OpenCV (see app/gui/imagery.py).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _bench_common import BCCD


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def make_scan(path: Path, side: int) -> None:
    if path.exists():
        return
    fields = sorted(BCCD.glob("*.jpg"))[:4] if BCCD.is_dir() else []
    tile = (
        np.concatenate([np.concatenate([cv2.imread(str(f)) for f in fields[:2]], 1),
                        np.concatenate([cv2.imread(str(f)) for f in fields[2:4]], 1)], 0)
        if len(fields) == 4
        else np.random.default_rng(0).integers(120, 255, (960, 1280, 3), dtype=np.uint8)
    )
    reps = (side // tile.shape[0] + 1, side // tile.shape[1] + 1, 1)
    scan = np.tile(tile, reps)[:side, :side]
    cv2.imwrite(str(path), scan, [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> int:
    side = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    work = Path(tempfile.gettempdir()) / "hemalabel-large"
    work.mkdir(exist_ok=True)
    scan = work / f"scan_{side}.jpg"
    t = time.perf_counter()
    make_scan(scan, side)
    print(
        f"scan {side}x{side}: {scan.stat().st_size / 1e6:.0f} MB JPEG (made/found in {time.perf_counter() - t:.1f} s)"
    )

    import os

    os.environ.setdefault("HEMALABEL_SETTINGS", str(work / "settings.ini"))
    from PySide6.QtCore import QEventLoop

    from app.gui.launch import create_main_window, make_application
    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.store import ProjectStore

    project = work / f"large_{side}.hemalabel"
    project.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(project) + suffix).unlink(missing_ok=True)
    with ProjectStore.create(project) as store:
        slide = store.add_slide(scan, side, side)
        rng = np.random.default_rng(1)
        cells = []
        for _ in range(3000):  # a whole scan holds thousands of cells
            x, y = rng.uniform(0, side - 80, 2)
            cells.append(NewCell(Box(x, y, x + 70, y + 70), CellKind.RED, source=LabelSource.MODEL, score=0.9))
        store.add_cells(slide.id, cells)

    app = make_application()
    window, controller = create_main_window()
    window.resize(1440, 900)
    window.show()
    for _ in range(5):
        app.processEvents()
    before = rss_mb()
    started = time.perf_counter()
    controller.open_project(project)
    print(f"open_project() returned after {(time.perf_counter() - started) * 1000:.0f} ms (3000 boxes placed)")
    ticks = []
    preview_at = None
    while controller.canvas.image_state[0] != "ok":
        if preview_at is None and controller.canvas.image_state[0] == "preview":
            preview_at = time.perf_counter() - started
        t0 = time.perf_counter()
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        ticks.append((time.perf_counter() - t0) * 1000)
        if controller.canvas.image_state[0] in ("corrupt", "missing"):
            print("could not open:", controller.canvas.image_state)
            return 1
    window.view.viewport().repaint()
    opened = time.perf_counter() - started
    print(f"open: preview on screen after {preview_at or float('nan'):.1f} s, full resolution after {opened:.1f} s "
          f"(decoded on a worker; longest GUI-thread step meanwhile {max(ticks, default=0):.0f} ms)")
    image = controller.canvas.image()
    print(f"memory: +{rss_mb() - before:.0f} MB RSS for a {side * side * 3 / 1e6:.0f} MB full image; "
          f"levels {[lvl.shape[1] for lvl in image.levels]}")

    def frames(steps: int, dx: int, dy: int) -> list[float]:
        out = []
        for _ in range(steps):
            t0 = time.perf_counter()
            bar_h, bar_v = window.view.horizontalScrollBar(), window.view.verticalScrollBar()
            bar_h.setValue(bar_h.value() + dx)
            bar_v.setValue(bar_v.value() + dy)
            window.view.viewport().repaint()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    fit = frames(1, 0, 0)
    window.view.centerOn(side / 2, side / 2)
    window.view.zoom_actual()
    at_100 = frames(120, 40, 25)
    window.view.resetTransform()
    window.view.scale(0.25, 0.25)
    window.view._zoom_updated()
    at_25 = frames(60, 60, 40)
    print(f"fitted frame {fit[0]:.0f} ms; pan at 100%: median {statistics.median(at_100):.1f} ms, "
          f"max {max(at_100):.1f} ms per frame; pan at 25%: median {statistics.median(at_25):.1f} ms, "
          f"max {max(at_25):.1f} ms; {controller.canvas._image_item.cached_tiles()} tiles cached")
    print(f"RSS after panning: {rss_mb():.0f} MB")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
