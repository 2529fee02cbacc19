"""What the lymphoid screen adds to classifying a project, on the path the
window and `classify --project` take (issue 31: <= 20%), with the bundled
classifier and screen model, warm.

    uv run python -m tests.benchmarks.bench_classify_screen [RUNS] [BCCD_FIELDS]

On the bundled six-field sample and on a project of BCCD fields (their
boxes as unreviewed proposals), each timed on a fresh copy of the same
project, RUNS times in turn, medians printed:
- classify: core.screen.after_classifying.classify_and_screen, screen off;
- separate: the classification, then the screen as a pass of its own
  (core.screen.slides.screen_slides, which reads each slide again);
- one pass: classify_and_screen with the screen on;
the screen on lymphocytes, monocytes and Unidentified cells, then on every
white cell.  The two screened projects are compared cell by cell (flags,
P(blast), subtype) after the last run: the one pass must decide the same.
Exits 1 when the one pass adds more than 20% or decides otherwise.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from core.classifier import load_classifier
from core.formats.voc import read_voc
from core.inference import classify_slides
from core.jobs import run_job
from core.sample_project import prepare_sample_project
from core.schema import LabelSource, NewCell
from core.screen.after_classifying import classify_and_screen
from core.screen.model import load_screen_model
from core.screen.slides import screen_slides
from core.store import ProjectStore
from tests.conftest import REAL_DATA as DATA

GOAL = 0.20


def _bccd_project(folder: Path, fields: int) -> Path:
    """BCCD's first `fields` fields, every box an unreviewed proposal, as the detector leaves them."""
    path = folder / "bccd.hemalabel"
    with ProjectStore.create(path) as store:
        images = read_voc(DATA / "bccd", store.taxonomy).images[:fields]
        for image in images:
            with Image.open(image.path) as opened:
                width, height = opened.size
            slide = store.add_slide(image.path, width, height)
            store.add_cells(slide.id, [NewCell(labelled.box, labelled.kind, source=LabelSource.MODEL)
                                       for labelled in image.boxes], "Detect cells")
    return path


def _timed(project: Path, copy: Path, run: Callable[[ProjectStore, list[int]], object]) -> float:
    shutil.copy(project, copy)
    with ProjectStore.open(copy) as store:
        ids = [slide.id for slide in store.slides()]
        started = time.perf_counter()
        run(store, ids)
        return time.perf_counter() - started


def _verdicts(path: Path) -> dict[int, tuple[str, float, str] | None]:
    with ProjectStore.open_to_read(path) as store:
        return {cell.id: None if cell.screen is None else (cell.screen.flag.value, cell.screen.p_blast,
                                                           cell.screen.subtype) for cell in store.cells()}


def _compare(separate: Path, one_pass: Path) -> tuple[int, int, float]:
    """Cells whose flag or subtype differ, cells screened, and the largest P(blast) difference."""
    before, now = _verdicts(separate), _verdicts(one_pass)
    assert before.keys() == now.keys()
    screened = [(before[cell_id], now[cell_id]) for cell_id in before if before[cell_id] or now[cell_id]]
    differ = sum(1 for a, b in screened if a is None or b is None or a[0] != b[0] or a[2] != b[2])
    largest = max((abs(a[1] - b[1]) for a, b in screened if a and b), default=0.0)
    return differ, len(screened), largest


def measure(name: str, project: Path, classifier: object, model: object, runs: int) -> bool:
    def classify(store: ProjectStore, ids: list[int]) -> object:
        return run_job(classify_and_screen(store, classifier, ids, None))  # type: ignore[arg-type]

    def separate(all_white: bool) -> Callable[[ProjectStore, list[int]], object]:
        def run(store: ProjectStore, ids: list[int]) -> object:
            run_job(classify_slides(store, classifier, ids))  # type: ignore[arg-type]
            return run_job(screen_slides(store, model, ids, all_white, record=True))  # type: ignore[arg-type]
        return run

    def one_pass(all_white: bool) -> Callable[[ProjectStore, list[int]], object]:
        def run(store: ProjectStore, ids: list[int]) -> object:
            return run_job(classify_and_screen(store, classifier, ids, model, all_white))  # type: ignore[arg-type]
        return run

    paths = {"classify": classify, "separate, lymphoid": separate(False), "one pass, lymphoid": one_pass(False),
             "separate, all white": separate(True), "one pass, all white": one_pass(True)}
    copies = {key: project.with_name(f"{project.stem}-{n}.hemalabel") for n, key in enumerate(paths)}
    for key, run in paths.items():  # warm-up: models, caches, the file system
        _timed(project, copies[key], run)
    times: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(runs):
        for key, run in paths.items():
            times[key].append(_timed(project, copies[key], run))
    with ProjectStore.open_to_read(project) as store:
        slides, white = len(store.slides()), sum(1 for cell in store.cells() if cell.kind.value == "white")
    base = statistics.median(times["classify"])
    print(f"\n{name}: {slides} slides, {white} white cells; medians of {runs} runs")
    print(f"  classify (screen off)     {base * 1000:8.1f} ms  ({base * 1000 / slides:.2f} ms a slide)")
    ok = True
    for key in list(paths)[1:]:
        median = statistics.median(times[key])
        added = median / base - 1
        print(f"  {key:<25} {median * 1000:8.1f} ms  screen adds {added:+.1%}")
        ok = ok and (not key.startswith("one pass") or added <= GOAL)
    for scope in ("lymphoid", "all white"):
        differ, screened, largest = _compare(copies[f"separate, {scope}"], copies[f"one pass, {scope}"])
        print(f"  {scope}: one pass against separate: {differ} of {screened} cells decided otherwise, "
              f"P(blast) differs by at most {largest:.2g}")
        ok = ok and differ == 0 and largest == 0.0
    return ok


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    fields = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    classifier, model = load_classifier(), load_screen_model()
    with tempfile.TemporaryDirectory() as folder:
        sample = run_job(prepare_sample_project(Path(folder) / "sample"))
        ok = measure("Bundled sample", sample, classifier, model, runs)
        ok = measure(f"BCCD, {fields} fields", _bccd_project(Path(folder), fields), classifier, model, runs) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
