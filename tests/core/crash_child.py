"""Run by test_crash_safety in a child process: makes edits forever,
announcing each before it starts ("try ...") and after its commit returns
("ok ..."), so the test knows which edit, at most one, was in flight."""

from __future__ import annotations

import random
import sys

from core.schema import Box, CellKind
from core.store import ProjectStore


def main(project: str, slide_id: int, seed: int) -> None:
    rng = random.Random(seed)
    store = ProjectStore.open(project)
    labels = ["neutrophil", "lymphocyte", "monocyte", "eosinophil"]
    mine: list[int] = []
    while True:
        choice = rng.random()
        if choice < 0.5 or not mine:
            label = rng.choice(labels)
            print(f"try add - {label}", flush=True)
            x, y = rng.uniform(0, 50), rng.uniform(0, 30)
            cell = store.add_cell(slide_id, Box(x, y, x + 8, y + 8), CellKind.WHITE, label=label)
            mine.append(cell.id)
            print(f"ok add {cell.id} {label}", flush=True)
        elif choice < 0.8:
            cell_id, label = rng.choice(mine), rng.choice(labels)
            print(f"try label {cell_id} {label}", flush=True)
            store.set_label([cell_id], label)
            print(f"ok label {cell_id} {label}", flush=True)
        else:
            cell_id = mine.pop(rng.randrange(len(mine)))
            print(f"try remove {cell_id} -", flush=True)
            store.remove_cells([cell_id])
            print(f"ok remove {cell_id} -", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
