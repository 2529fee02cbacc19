"""Eight workstations on one PostgreSQL project (issue 32): each a process
with its own ProjectStore over loopback, making BENCH_SHARED_EDITS edits
(2,000 unless the variable says fewer), a fifth of them on ten cells every
station shares, the rest on a slide of its own.  A station edits what its
view shows, and its view follows the others as a window does (what they
announced, every 250 ms), so edits on the shared cells meet changes they
have not seen yet and must be refused.

Checked: no edit lost (every accepted edit is in the history, exactly on
the version its station saw; every refused one is not), the final state is
what the history says, every conflict refused and counted.  Printed: the
edit latency (p50, p95; goal p95 <= 30 ms), and the time until the other
stations hear of a commit, as a window's timer does and as a tight loop
does (goal: on show within 1 s).

    HEMALABEL_TEST_POSTGRES=postgresql://... uv run pytest tests/benchmarks/test_bench_shared_project.py -s
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.identity import Identity
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore, StoreEventKind
from core.store.errors import EditConflictError
from tests.core.images import write_image

STATIONS = 8
EDITS = int(os.environ.get("BENCH_SHARED_EDITS", "2000"))
OWN_CELLS = 50  # on each station's own slide
SHARED_CELLS = 10  # on the slide every station edits
SHARED_SHARE = 0.2  # of each station's edits
FOLLOW_S = 0.25  # app.gui.session.FOLLOW_SERVER_INTERVAL_MS
CLASSES = ("neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil")
P95_GOAL_MS = 30.0
HEARD_GOAL_S = 1.0


@dataclass
class StationResult:
    accepted: list[tuple[str, int, int, float]]  # description, cell, version seen, time committed (epoch s)
    refused: list[tuple[str, int]]  # description, cell
    failed: list[str]  # any other error: none expected
    latencies_ms: list[float]


def _station(address: str, number: int, own: list[int], shared: list[int], start: Any, out: Any) -> None:
    """One workstation: edits what its view shows; the view follows the
    others' announcements, and a refused cell is shown again."""
    rng = random.Random(number)
    result = StationResult([], [], [], [])
    with ProjectStore.open(address, identity=Identity(f"S{number}", f"bench-{number}")) as store:
        view = {cell.id: cell.row_version for cell in store.cells()}
        start.wait()
        followed = time.monotonic()
        for k in range(EDITS):
            if time.monotonic() - followed >= FOLLOW_S:
                for event in store.changes_elsewhere(wait=False):  # as a window's timer asks
                    for cell_id in event.cell_ids:
                        view[cell_id] = store.cell(cell_id).row_version
                followed = time.monotonic()
            cell_id = rng.choice(shared if rng.random() < SHARED_SHARE else own)
            description = f"S{number} #{k}"
            began = time.perf_counter()
            try:
                store.set_label([cell_id], rng.choice(CLASSES), description, seen={cell_id: view[cell_id]})
            except EditConflictError:
                result.refused.append((description, cell_id))
                view[cell_id] = store.cell(cell_id).row_version
            except Exception as error:  # noqa: BLE001 - counted and reported: the check fails on any
                result.failed.append(f"{description}: {error}")
            else:
                result.accepted.append((description, cell_id, view[cell_id], time.time()))
                view[cell_id] += 1
            result.latencies_ms.append((time.perf_counter() - began) * 1000)
    out.put((number, result))


def _watch(address: str, interval: float, stop: threading.Event, heard: dict[int, list[float]]) -> None:
    """Another station's window: when it hears of each cell's changes."""
    with ProjectStore.open(address, read_only=True) as store:
        while not stop.is_set():
            for event in store.changes_elsewhere(wait=False):  # as a window's timer asks
                if event.kind is StoreEventKind.CELLS_CHANGED:
                    for cell_id in event.cell_ids:
                        heard[cell_id].append(time.time())
            time.sleep(interval)


def _project(address: str, folder: Path) -> tuple[list[list[int]], list[int]]:
    def cells(n: int) -> list[NewCell]:
        return [NewCell(Box(i, 1, i + 8, 9), CellKind.WHITE, label="neutrophil", source=LabelSource.MODEL,
                        model_version="m", score=0.9) for i in range(n)]

    with ProjectStore.create(address) as store:
        own = []
        for number in range(STATIONS):
            slide = store.add_slide(write_image(folder / f"own_{number}.png", seed=number), 64, 48)
            own.append([cell.id for cell in store.add_cells(slide.id, cells(OWN_CELLS), "Detect")])
        slide = store.add_slide(write_image(folder / "shared.png", seed=99), 64, 48)
        shared = [cell.id for cell in store.add_cells(slide.id, cells(SHARED_CELLS), "Detect")]
    return own, shared


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _check_history(address: str, results: list[StationResult]) -> None:
    """Every accepted edit is in the history, on the version its station
    saw; no refused one is; each cell is as its latest change left it, its
    version moved on once per change."""
    accepted = {description: (cell_id, seen) for r in results for description, cell_id, seen, _ in r.accepted}
    refused = {description for r in results for description, _ in r.refused}
    with ProjectStore.open(address, read_only=True) as store:
        rows = store._db.execute(
            "SELECT e.description, c.cell_id, c.before, c.after FROM changes c JOIN edits e ON e.id = c.edit_id "
            "ORDER BY c.id").fetchall()
        in_history: dict[str, tuple[int, int]] = {}
        latest: dict[int, dict[str, Any]] = {}
        changes: dict[int, int] = defaultdict(int)
        for row in rows:
            changes[row["cell_id"]] += 1
            latest[row["cell_id"]] = json.loads(row["after"])
            if row["description"].startswith("S"):
                in_history[row["description"]] = (row["cell_id"], json.loads(row["before"])["row_version"])
        assert in_history == accepted, "an accepted edit is missing, or was written over a version not seen"
        assert not refused & in_history.keys()
        for cell in store.cells():
            assert cell.label == latest[cell.id]["label"]
            assert cell.row_version == changes[cell.id] - 1  # its adding is a change too


def test_eight_stations_on_one_server_project(postgres_url: str, tmp_path: Path) -> None:
    own, shared = _project(postgres_url, tmp_path)
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(STATIONS + 1), context.Queue()
    stations = [context.Process(target=_station, args=(postgres_url, n, own[n], shared, start, out))
                for n in range(STATIONS)]
    for process in stations:
        process.start()
    stop = threading.Event()
    heard_by_window: dict[int, list[float]] = defaultdict(list)
    heard_at_once: dict[int, list[float]] = defaultdict(list)
    watchers = [threading.Thread(target=_watch, args=(postgres_url, FOLLOW_S, stop, heard_by_window)),
                threading.Thread(target=_watch, args=(postgres_url, 0.002, stop, heard_at_once))]
    for watcher in watchers:
        watcher.start()
    time.sleep(1.0)  # the watchers are listening before the first edit
    start.wait()
    began = time.monotonic()
    results = [result for _, result in sorted(out.get(timeout=3600) for _ in stations)]
    took = time.monotonic() - began
    for process in stations:
        process.join(60)
    time.sleep(2 * FOLLOW_S)  # the last commits reach the watchers
    stop.set()
    for watcher in watchers:
        watcher.join(10)

    failed = [failure for result in results for failure in result.failed]
    assert not failed, failed[:5]
    _check_history(postgres_url, results)

    latencies = [ms for result in results for ms in result.latencies_ms]
    accepted = sum(len(result.accepted) for result in results)
    refused = sum(len(result.refused) for result in results)
    committed: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for result in results:
        for _, cell_id, seen, at in result.accepted:
            committed[cell_id].append((seen, at))
    delays = {name: _heard_delays(committed, heard) for name, heard in
              (("window", heard_by_window), ("at once", heard_at_once))}
    print(f"\n{STATIONS} stations x {EDITS} edits on one PostgreSQL project ({postgres_url.rsplit('@', 1)[-1]}), "
          f"{took:.1f} s, {accepted + refused} edits ({(accepted + refused) / took:.0f}/s)")
    print(f"  accepted {accepted}, refused as conflicts {refused} ({refused / (accepted + refused):.1%}); "
          "none lost, none written over a change its station had not seen")
    print(f"  edit latency: p50 {_percentile(latencies, 0.5):.1f} ms, p95 {_percentile(latencies, 0.95):.1f} ms, "
          f"max {max(latencies):.1f} ms (goal p95 <= {P95_GOAL_MS:.0f} ms)")
    for name, found in delays.items():
        print(f"  heard by another station ({name}): p50 {_percentile(found, 0.5) * 1000:.0f} ms, "
              f"p95 {_percentile(found, 0.95) * 1000:.0f} ms, max {max(found) * 1000:.0f} ms "
              f"of {len(found)} commits (goal <= {HEARD_GOAL_S * 1000:.0f} ms)")
    assert _percentile(latencies, 0.95) <= P95_GOAL_MS
    assert delays["window"] and max(delays["window"]) <= HEARD_GOAL_S


def _heard_delays(committed: dict[int, list[tuple[int, float]]], heard: dict[int, list[float]]) -> list[float]:
    """A commit of a cell and the watcher's hearing of it, matched in order:
    a cell's commits are made (and announced) one after another."""
    delays = []
    for cell_id, commits in committed.items():
        times = [at for _, at in sorted(commits)]  # by the version each was made on: commit order
        delays += [max(0.0, when - at) for at, when in zip(times, heard.get(cell_id, []), strict=False)]
    return delays
