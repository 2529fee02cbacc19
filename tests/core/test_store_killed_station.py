"""A station killed in the middle of an edit (kill -9: no clean-up runs)
leaves the project consistent: every edit it had seen committed is there,
whole, with its undo step and its correction; the one in flight is there
whole or not at all; the project opens and takes edits again; and the
slide it had in review is free again.  On a file and on a server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore
from core.store.claims import CLAIM_TIMEOUT_S
from tests.core.images import write_image

REPO_ROOT = Path(__file__).resolve().parents[2]
CELLS = 20
COMMITTED_BEFORE_KILL = 40
CLASSES = ("neutrophil", "lymphocyte", "monocyte")

# The station: edits one cell after another and says each edit once it is committed.
_STATION = """
import sys
from core.identity import Identity
from core.store import ProjectStore
store = ProjectStore.open(sys.argv[1], identity=Identity("KL", "bench-9"))
cells = [cell.id for cell in store.cells()]
assert store.claim(store.slides()[0].id) is None  # in review here, as a window would have it
classes = sys.argv[2].split(",")
n = 0
while True:
    store.set_label([cells[n % len(cells)]], classes[n % len(classes)], f"K #{n}")
    print(n, flush=True)
    n += 1
"""


@pytest.mark.slow
def test_a_station_killed_mid_edit_leaves_every_committed_edit_and_nothing_half_written(
    project_location: str, tmp_path: Path
) -> None:
    with ProjectStore.create(project_location) as store:
        slide = store.add_slide(write_image(tmp_path / "images" / "a.png"), 64, 48)
        store.add_cells(slide.id, [NewCell(Box(n, 1, n + 5, 6), CellKind.WHITE, label="basophil",
                                           source=LabelSource.MODEL, model_version="m", score=0.9)
                                   for n in range(CELLS)], description="Detect")
    station = subprocess.Popen([sys.executable, "-c", _STATION, project_location, ",".join(CLASSES)],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert station.stdout is not None
    said = []
    for line in station.stdout:
        said.append(int(line))
        if len(said) == COMMITTED_BEFORE_KILL:
            os.kill(station.pid, signal.SIGKILL)  # while it makes the next edit
            break
    said += [int(line) for line in station.stdout]  # what it said before it died
    station.wait(10)
    assert station.returncode == -signal.SIGKILL, station.stderr.read() if station.stderr else ""
    assert said == list(range(len(said)))

    with ProjectStore.open(project_location) as store:
        steps = store._db.execute(
            "SELECT e.id, e.description, c.cell_id, c.before, c.after FROM edits e JOIN changes c ON c.edit_id = e.id "
            "WHERE e.description LIKE 'K #%' ORDER BY e.id").fetchall()
        made = [int(row["description"].removeprefix("K #")) for row in steps]
        # Every committed edit, in order, each once; at most the one in flight besides.
        assert made[:len(said)] == said and len(made) - len(said) in (0, 1)
        corrections = store._db.execute(
            "SELECT count(*) FROM corrections q JOIN edits e ON e.id = q.edit_id WHERE e.description LIKE 'K #%'"
        ).fetchone()[0]
        assert corrections == len(made)
        for cell in store.cells():
            changes = [row for row in steps if row["cell_id"] == cell.id]
            latest = json.loads(changes[-1]["after"]) if changes else None
            assert cell.label == (latest["label"] if latest else "basophil")
            assert cell.row_version == len(changes)  # each committed edit moved it on once, none half
        store.set_label([store.cells()[0].id], "monocyte")  # takes edits again

    # Its claim dies with it: on a file at once (the lock proves nobody else
    # is live), on a server once its heartbeat has lapsed.
    with ProjectStore.open(project_location) as store:
        if store.is_file:
            assert store.claim(slide.id) is None
        else:
            held = store.claim(slide.id)
            assert held is not None and held.who == "KL"
            store._db.execute("UPDATE claims SET heartbeat = heartbeat - ?", (CLAIM_TIMEOUT_S + 1,))
            assert store.claim(slide.id) is None
