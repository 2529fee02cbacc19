"""Reading the audit trail of a long-worked project: 10 slides of 500 white
cells, 18 classifier runs over them and 2,000 relabels by hand (97,000
changes), read whole, for one slide (what File > Audit Trail opens on),
one cell and one user, as core.audit_trail gives them to every view.

    uv run python tests/benchmarks/bench_audit_trail.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.audit_trail import AuditFilter, audit_trail  # noqa: E402
from core.identity import Identity  # noqa: E402
from core.schema import Box, CellKind, LabelSource, NewCell  # noqa: E402
from core.store import ProjectStore  # noqa: E402

SLIDES, CELLS_PER_SLIDE, MODEL_RUNS, RELABELS = 10, 500, 18, 2_000


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="hemalabel-trail-"))
    try:
        with ProjectStore.create(folder / "p.hemalabel", identity=Identity("AB", "bench-1")) as store:
            slides = [store.add_slide(folder / f"{n}.png", 640, 480).id for n in range(SLIDES)]
            cells = []
            for slide_id in slides:
                proposals = [NewCell(Box(1, 1, 40, 40), CellKind.WHITE, label="neutrophil", source=LabelSource.MODEL)
                             for _ in range(CELLS_PER_SLIDE)]
                cells += [cell.id for cell in store.add_cells(slide_id, proposals)]
            for run in range(MODEL_RUNS):
                label = ("monocyte", "lymphocyte")[run % 2]
                store.set_predictions([(cell_id, label, {label: 0.6, "neutrophil": 0.4}) for cell_id in cells],
                                      f"cls-{run}")
            store.identity = Identity("CD", "bench-2")  # the relabels are a second technician's: "one user" finds them
            for cell_id in cells[:RELABELS]:
                store.set_label([cell_id], "basophil")
            filters = {"all": AuditFilter(), "one slide": AuditFilter(slide_id=slides[3]),
                       "one cell": AuditFilter(cell_id=cells[10]), "one user": AuditFilter(user="CD")}
            for name, where in filters.items():
                started = time.perf_counter()
                entries = audit_trail(store, where)
                print(f"{name}: {len(entries)} entries in {(time.perf_counter() - started) * 1000:.0f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
