"""One edit (a class key) in a project with a long history: every edit drops
the redo branch and its retracted corrections, and an undo marks its edit's
corrections.  Measured on a project with N edits and N corrections behind
it (a technician's months), with the history indexes
(core.store_schema.ensure_indexes) and, as the baseline in the same run, on
a copy of the file with them dropped.

    uv run python tests/benchmarks/bench_edit_history.py [EDITS]
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.schema import Box, CellKind, LabelSource, NewCell  # noqa: E402
from core.store import ProjectStore  # noqa: E402

PRESSES = 300


def _project_with_history(folder: Path, edits: int) -> Path:
    path = folder / "history.hemalabel"
    with ProjectStore.create(path) as store:
        slide = store.add_slide(folder / "a.png", 640, 480)
        store.add_cells(slide.id, [NewCell(Box(1, 1, 40, 40), CellKind.WHITE, label="neutrophil",
                                           source=LabelSource.MODEL) for _ in range(100)])
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO edits(description, at) VALUES ('Set class', '2026-01-01T00:00:00')",
                           [()] * edits)
    connection.executemany(
        "INSERT INTO corrections(at, edit_id, slide_id, cell_id, action, old_label, new_label) "
        "VALUES ('2026-01-01T00:00:00', ?, 1, 1, 'relabel', 'neutrophil', 'monocyte')",
        [(n + 1,) for n in range(edits)],
    )
    connection.execute("COMMIT")
    connection.close()
    return path


def _press_keys(path: Path, without_indexes: bool = False) -> tuple[float, float]:
    """Median ms of a class key, and of an undo."""
    presses, undos = [], []
    with ProjectStore.open(path) as store:
        if without_indexes:  # the baseline: as before the store made them
            store._db.execute("DROP INDEX edits_undone")
            store._db.execute("DROP INDEX corrections_by_edit")
        cells = store.cells()
        for n in range(PRESSES):
            started = time.perf_counter()
            store.set_label([cells[n % len(cells)].id], ("monocyte", "lymphocyte")[n % 2])
            presses.append((time.perf_counter() - started) * 1000)
            if n % 10 == 9:
                started = time.perf_counter()
                store.undo()
                undos.append((time.perf_counter() - started) * 1000)
    return statistics.median(presses), statistics.median(undos)


def main() -> int:
    edits = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    folder = Path(tempfile.mkdtemp(prefix="hemalabel-history-"))
    try:
        path = _project_with_history(folder, edits)
        baseline_copy = folder / "baseline.hemalabel"
        shutil.copy(path, baseline_copy)
        with_indexes = _press_keys(path)
        without = _press_keys(baseline_copy, without_indexes=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"history: {edits} edits and {edits} corrections; {PRESSES} class keys, an undo every 10")
    print(f"class key: {with_indexes[0]:.2f} ms median with the history indexes, {without[0]:.2f} ms without "
          f"({without[0] / with_indexes[0]:.1f}x)")
    print(f"undo: {with_indexes[1]:.2f} ms median with, {without[1]:.2f} ms without "
          f"({without[1] / with_indexes[1]:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
