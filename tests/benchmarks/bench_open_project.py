"""Opening a large project, and following one that another window edits:
how long the GUI thread is held.  A project of N 640x480 slides with 200
red cells and 100 classified white cells each (a 100-cell differential
after Detect + Classify); the slide list counts every slide's cells when the
project opens, and again whenever a read-only window learns of edits saved
elsewhere; the cell gallery reads the white cells of the slide on show when
first shown, and every white cell when "All slides" is first chosen; and
keys in the gallery when it shows every slide.

Baselines in the same run: counting by reading every cell, as the slide list
did before it asked SQLite for the counts (ProjectStore.cell_tallies); and the
gallery laid out in one pass, as before it laid out LAYOUT_BATCH rows per turn
of the event loop.  With batches, part of the work moves out of the call that
shows the gallery into later turns, so the figure that says whether the window
froze is the longest single turn of the event loop until the layout is done.

    xvfb-run -a uv run python tests/benchmarks/bench_open_project.py [SLIDES]
"""

from __future__ import annotations

import statistics
import sys
import time

from _bench_common import make_project

RED_PER_SLIDE, WHITE_PER_SLIDE = 200, 100
ROUNDS = 5


def _fill(project, red_per_slide: int, white_per_slide: int) -> int:  # noqa: ANN001
    """Each slide as after Detect + Classify on a 100-cell differential."""
    from core.schema import Box, CellKind, LabelSource, NewCell
    from core.store import ProjectStore

    classes = ("neutrophil", "lymphocyte", "monocyte", "eosinophil")
    with ProjectStore.open(project) as store:
        for slide in store.slides():
            red = [
                NewCell(Box(x, y, x + 12, y + 12), CellKind.RED, source=LabelSource.MODEL, score=0.9)
                for n in range(red_per_slide)
                for x, y in [((n * 37) % 620, (n * 53) % 460)]
            ]
            white = [
                NewCell(Box(x, y, x + 40, y + 40), CellKind.WHITE, label=classes[n % 4], source=LabelSource.MODEL,
                        score=0.9, probabilities={classes[n % 4]: 0.9, "basophil": 0.1})
                for n in range(white_per_slide)
                for x, y in [((n * 41) % 600, (n * 29) % 440)]
            ]
            store.add_cells(slide.id, red + white)
        return len(store.cells())


def _count_by_reading_every_cell(store) -> dict[int, tuple[int, ...]]:  # noqa: ANN001
    """The baseline: what the slide list did before cell_tallies, reading
    every cell, by the differential's own rules as cell_tallies counts."""
    from core.differential import CountsAs, awaits_review, counts_as
    from core.schema import CellKind

    counts: dict[int, list[int]] = {}
    for cell in store.cells():
        row = counts.setdefault(cell.slide_id, [0, 0, 0, 0, 0, 0])
        row[{CellKind.WHITE: 0, CellKind.RED: 1, CellKind.PLATELET: 2}[cell.kind]] += 1
        row[3] += not cell.reviewed
        row[4] += counts_as(cell.kind, cell.label, store.taxonomy) is CountsAs.UNIDENTIFIED
        row[5] += awaits_review(cell.kind, cell.reviewed)
    return {slide_id: tuple(row) for slide_id, row in counts.items()}


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    project = make_project(count)
    cells = _fill(project, RED_PER_SLIDE, WHITE_PER_SLIDE)
    print(f"project: {count} slides, {cells} cells")

    from app.gui.launch import create_main_window, make_application
    from core.store import ProjectStore

    app = make_application()
    window, controller = create_main_window()
    window.resize(1440, 900)
    window.show()
    from PySide6.QtWidgets import QListView

    from app.gui.gallery.model import GalleryModel
    from app.gui.gallery.view import GalleryView

    def longest_turn(seconds: float = 1.5) -> float:
        """The longest single turn of the event loop over the next few seconds."""
        longest, until = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < until:
            started = time.perf_counter()
            app.processEvents()
            longest = max(longest, time.perf_counter() - started)
            time.sleep(0.002)
        return longest * 1000

    def show_gallery_rounds() -> tuple[list[float], list[float], list[float], list[float], list[float]]:
        opens, galleries, every_slide, turns, closes = [], [], [], [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            assert controller.open_project(project)
            opens.append((time.perf_counter() - started) * 1000)
            app.processEvents()
            started = time.perf_counter()
            window.actions["gallery"].trigger()  # made when first shown: the slide on show's cells are read
            galleries.append((time.perf_counter() - started) * 1000)
            longest_turn(0.5)
            started = time.perf_counter()
            controller.review.gallery.set_slide(None)  # every white cell is read
            every_slide.append((time.perf_counter() - started) * 1000)
            turns.append(longest_turn())
            window.actions["gallery"].trigger()
            app.processEvents()
            started = time.perf_counter()
            controller.close_project()
            closes.append((time.perf_counter() - started) * 1000)
        return opens, galleries, every_slide, turns, closes

    opens, galleries, every_slide, turns, closes = show_gallery_rounds()
    batched_init = GalleryView.__init__

    def single_pass_init(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        batched_init(self, *args, **kwargs)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)

    GalleryView.__init__ = single_pass_init  # type: ignore[method-assign]  # the baseline, for one run
    _, _, every_slide_before, turns_before, _ = show_gallery_rounds()
    GalleryView.__init__ = batched_init  # type: ignore[method-assign]

    with ProjectStore.open(project, read_only=True) as reader:
        tallies, baseline = [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            by_sql = reader.cell_tallies()
            tallies.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            by_reading = _count_by_reading_every_cell(reader)
            baseline.append((time.perf_counter() - started) * 1000)
        assert {k: tuple(v) for k, v in by_sql.items()} == by_reading  # the same counts

    # The gallery over every slide: keys with 30,000+ cells on show.  Baseline
    # in the same run: QListView's own dataChanged, which lays out every row.
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    assert controller.open_project(project)
    window.actions["gallery"].trigger()
    gallery = controller.review.gallery
    gallery.set_slide(None)
    longest_turn()

    def keys(key: Qt.Key, count: int = ROUNDS) -> float:
        """Median over the key's own call and the longest event-loop turn after it."""
        gallery.view.setFocus()
        times = []
        for _ in range(count):
            started = time.perf_counter()
            QTest.keyClick(gallery.view, key)
            app.processEvents()
            held = (time.perf_counter() - started) * 1000
            times.append(max(held, longest_turn(0.3)))
        return statistics.median(times)

    QTest.keyClick(gallery.view, Qt.Key.Key_Tab)
    confirm = keys(Qt.Key.Key_Space)
    reclassify = keys(Qt.Key.Key_5)
    repaint_only = GalleryView.dataChanged
    del GalleryView.dataChanged
    confirm_before = keys(Qt.Key.Key_Space)
    GalleryView.dataChanged = repaint_only  # type: ignore[method-assign]
    in_place = GalleryModel._update_in_place
    GalleryModel._update_in_place = lambda self, before, repaint_all=False: False  # type: ignore[method-assign]
    confirm_regrouping = keys(Qt.Key.Key_Space)  # with every cell grouped again
    GalleryModel._update_in_place = in_place  # type: ignore[method-assign]
    gallery.view.setLayoutMode(QListView.LayoutMode.SinglePass)
    reclassify_before = keys(Qt.Key.Key_5)
    gallery.view.setLayoutMode(QListView.LayoutMode.Batched)
    shown = gallery.model.rowCount()
    window.actions["gallery"].trigger()
    controller.close_project()

    # A read-only window following another that edits: one reload of the list.
    with ProjectStore.open(project) as editor:
        assert controller.open_project(project, read_only=True)
        reloads = []
        for n in range(ROUNDS):
            slide = editor.slides()[n]
            editor.confirm([cell.id for cell in editor.cells(slide.id)[:5]])
            assert controller.session.store.changed_elsewhere()
            started = time.perf_counter()
            window.slide_model._reload()
            reloads.append((time.perf_counter() - started) * 1000)
        controller.close_project()

    print(f"open project (GUI thread, to the first slide listed): median {statistics.median(opens):.0f} ms "
          f"(min {min(opens):.0f}, max {max(opens):.0f}); close {statistics.median(closes):.0f} ms")
    print(
        "cell gallery, first shown (reads the slide on show's white cells): "
        f"median {statistics.median(galleries):.0f} ms"
    )
    print(
        "cell gallery, All slides first chosen (reads every white cell): "
        f"median {statistics.median(every_slide):.0f} ms, "
        f"then longest event-loop turn {statistics.median(turns):.0f} ms; laid out in one pass (before): "
        f"{statistics.median(every_slide_before):.0f} ms, then {statistics.median(turns_before):.0f} ms"
    )
    print(f"count every slide's cells: SQLite {statistics.median(tallies):.0f} ms median, "
          f"reading every cell (before) {statistics.median(baseline):.0f} ms median, "
          f"{statistics.median(baseline) / statistics.median(tallies):.1f}x")
    print(f"read-only window, slide list reload after an edit elsewhere: median {statistics.median(reloads):.0f} ms")
    print(f"gallery over all slides ({shown} rows): confirm (Space) {confirm:.0f} ms median "
          f"({confirm_regrouping:.0f} ms grouping every cell again, "
          f"{confirm_before:.0f} ms with QListView's relayout on every data change); "
          f"class key (the cell moves group, the view lays out again) {reclassify:.0f} ms "
          f"({reclassify_before:.0f} ms laid out in one pass)")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
