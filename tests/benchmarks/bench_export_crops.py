"""Benchmark: export 10,000 cells as class-folder crops (goal: <= 30 s).

Builds a project of 200 synthetic 640x480 JPEG smear fields with 50 cells
each (the size of BCCD fields, boxes from platelet to white-cell size), then
times `hemalabel export --format crops` through the core job.

    uv run python tests/benchmarks/bench_export_crops.py [--cells N] [--crop-size PX] [--crop-format png|jpg]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from core.exporting import ExportOptions, export_dataset
from core.jobs import run_job
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore

GOAL_SECONDS = 30.0
CELLS_PER_SLIDE = 50
LABELS: dict[CellKind, list[str | None]] = {
    CellKind.WHITE: ["neutrophil", "lymphocyte", "monocyte", "eosinophil"],
    CellKind.RED: [None],
    CellKind.PLATELET: ["platelet"],
}


def build_project(folder: Path, cells: int, seed: int = 0) -> ProjectStore:
    rng = np.random.default_rng(seed)
    store = ProjectStore.create(folder / "bench.hemalabel")
    slides = -(-cells // CELLS_PER_SLIDE)
    with store.edit("Build benchmark project", record_history=False):
        for index in range(slides):
            # Smooth noise compresses like a smear field, unlike white noise.
            small = rng.integers(120, 230, size=(60, 80, 3), dtype=np.uint8)
            pixels = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
            path = folder / "images" / f"field_{index:04d}.jpg"
            path.parent.mkdir(exist_ok=True)
            cv2.imwrite(str(path), pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
            slide = store.add_slide(path, 640, 480)
            new = []
            for _ in range(min(CELLS_PER_SLIDE, cells - index * CELLS_PER_SLIDE)):
                kind = CellKind(rng.choice(["white", "red", "red", "platelet"]))
                side = {CellKind.WHITE: 110, CellKind.RED: 70, CellKind.PLATELET: 20}[kind] * rng.uniform(0.8, 1.2)
                x, y = rng.uniform(-10, 640 - side + 10), rng.uniform(-10, 480 - side + 10)
                label = LABELS[kind][rng.integers(len(LABELS[kind]))]
                new.append(NewCell(Box(x, y, x + side, y + side), kind, label, LabelSource.IMPORT, reviewed=True))
            store.add_cells(slide.id, new)
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--crop-size", type=int)
    parser.add_argument("--crop-format", default="png", choices=("png", "jpg"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hemalabel-bench-") as temporary:
        folder = Path(temporary)
        store = build_project(folder, args.cells)
        options = ExportOptions(format="crops", crop_size=args.crop_size, crop_format=args.crop_format)
        started = time.perf_counter()
        report = run_job(export_dataset(store, folder / "crops", options))
        seconds = time.perf_counter() - started
        written = sum(1 for path in (folder / "crops").rglob(f"*.{args.crop_format}"))
        store.close()
    assert report.cells == written == args.cells, (report.cells, written)
    verdict = "meets" if seconds <= GOAL_SECONDS else "MISSES"
    print(
        f"export crops: {report.cells} cells from {report.slides} slides in {seconds:.2f} s "
        f"({report.cells / seconds:.0f} cells/s; {args.crop_format}, size {args.crop_size or 'natural'}) "
        f"- {verdict} the goal of {GOAL_SECONDS:.0f} s"
    )
    return 0 if seconds <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
