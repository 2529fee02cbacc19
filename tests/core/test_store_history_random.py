"""Undo and redo under random edits: whatever a technician does, in any
order, each undo gives back exactly the project before the edit, each redo
the project after it, a new edit drops what was undone, and undoing
everything leaves the project as it began with no correction queued."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.schema import Box, Cell, CellKind, LabelSource, NewCell
from core.store import ProjectStore, StoreError
from tests.core.images import write_image

CLASSES = ("neutrophil", "lymphocyte", "monocyte", "eosinophil", "unidentified")


def state(store: ProjectStore) -> tuple[str, ...]:
    """Every cell, every field.  Not the slides' statuses: a slide once
    edited stays "in review" through undo (someone has worked on it)."""
    return tuple(repr(cell) for cell in store.cells())


def live_steps(store: ProjectStore) -> int:
    """How many edits the history holds that are not undone (white box:
    whether an edit that changed nothing was recorded is the store's call)."""
    return store._db.execute("SELECT COUNT(*) FROM edits WHERE undone = 0").fetchone()[0]


def random_box(rng: random.Random) -> Box:
    x, y = rng.uniform(0, 50), rng.uniform(0, 36)
    return Box(x, y, x + rng.uniform(1, 14), y + rng.uniform(1, 12))


def edit(store: ProjectStore, slides: list[int], rng: random.Random, last_nudged: int | None) -> tuple[str, int | None]:
    """One random edit; returns its name and the cell it nudged, if it did."""
    cells: list[Cell] = store.cells()
    name = rng.choice(["add", "label", "confirm", "kind", "move", "nudge", "delete"] if cells else ["add"])
    chosen = [cell.id for cell in rng.sample(cells, min(len(cells), rng.randint(1, 3)))] if cells else []
    if name == "add":
        store.add_cells(rng.choice(slides), [
            NewCell(random_box(rng), rng.choice(list(CellKind)),
                    source=rng.choice([LabelSource.HUMAN, LabelSource.MODEL]),
                    label=rng.choice(CLASSES) if rng.random() < 0.5 else None, score=0.8)
            for _ in range(rng.randint(1, 3))
        ])
    elif name == "label":
        store.set_label(chosen, rng.choice(CLASSES))
    elif name == "confirm":
        store.confirm(chosen)
    elif name == "kind":
        store.set_kind(chosen, rng.choice(list(CellKind)))
    elif name == "move":
        store.move_cell(chosen[0], random_box(rng))
    elif name == "nudge":
        # Most nudges continue on the box just nudged, as key presses in a row do.
        target = (
            last_nudged
            if last_nudged is not None and rng.random() < 0.7 and store._cell_or_none(last_nudged)
            else chosen[0]
        )
        box = store.cell(target).box
        store.nudge_cell(target, Box(box.x0 + 1, box.y0, box.x1 + 1, box.y1))
        return name, target
    else:
        store.remove_cells(chosen)
    return name, None


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.slow
def test_undo_and_redo_give_back_each_state_under_random_edits(
    project_location: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    with ProjectStore.create(project_location) as store:
        slides = [store.add_slide(write_image(tmp_path / f"s{n}.png"), 64, 48).id for n in range(2)]
        start = state(store)
        store.add_cells(slides[0],
                        [NewCell(random_box(rng), CellKind.WHITE, source=LabelSource.MODEL, label="neutrophil",
                                            score=0.9, probabilities={"neutrophil": 0.9, "lymphocyte": 0.1})])
        done: list[tuple[str, ...]] = [start, state(store)]  # the state after each live step, oldest first
        undone: list[tuple[str, ...]] = []  # the states redo gives back, next first
        last_nudged: int | None = None
        for step in range(150):
            roll = rng.random()
            if roll < 0.2 and store.can_undo():
                store.undo()
                undone.insert(0, done.pop())
                last_nudged = None
            elif roll < 0.3 and store.can_redo():
                store.redo()
                done.append(undone.pop(0))
                last_nudged = None
            else:
                before, steps_before = state(store), live_steps(store)
                try:
                    name, nudged = edit(store, slides, rng, last_nudged)
                except StoreError:
                    assert state(store) == before and live_steps(store) == steps_before, (
                        f"a refused edit changed the project (step {step})"
                    )
                    continue
                joined = name == "nudge" and nudged == last_nudged and live_steps(store) == steps_before
                if joined:
                    done[-1] = state(store)  # presses in a row on one box are one step
                elif live_steps(store) > steps_before:
                    done.append(state(store))
                    undone.clear()  # a new edit drops the redo branch
                else:
                    assert state(store) == before, f"{name} changed the project without an undo step (step {step})"
                last_nudged = nudged
            assert state(store) == done[-1], f"step {step}"
            assert store.can_redo() == bool(undone), f"step {step}"
        while store.can_undo():
            store.undo()
        assert state(store) == start
        assert store.corrections() == []  # every decision undone is retracted from the queue
