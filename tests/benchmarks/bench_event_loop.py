"""Event-loop latency while detecting and classifying 100 slides (BCCD
fields), with fake models or, with --real, the bundled detector and
classifier: a 5 ms timer on the GUI thread records how late each tick arrives;
the worst gap is the longest the window was unresponsive.  Meanwhile the
window shows a slide and receives every store event (canvas and browser
update as results arrive).

    xvfb-run -a uv run python tests/benchmarks/bench_event_loop.py [SLIDES] [--real [--warm]] [--no-pan]

Exits 1 when the worst stall misses the goal (issue 5: the GUI thread never
blocked over 100 ms).
"""

from __future__ import annotations

import statistics
import sys
import time

from _bench_common import make_project

GOAL_MAX_STALL_MS = 100.0


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 100
    pan = "--no-pan" not in sys.argv
    project = make_project(count)
    from fake_models import FakeClassifier, FakeDetector
    from PySide6.QtCore import QEventLoop, QTimer

    from app.gui import model_provider
    from app.gui.launch import create_main_window, make_application

    real = "--real" in sys.argv
    if not real:
        model_provider.use_models(detector=lambda: FakeDetector(red_cells=18), classifier=FakeClassifier)
    app = make_application()
    window, controller = create_main_window()
    window.resize(1440, 900)
    window.show()
    controller.open_project(project)
    while controller.canvas.image_state[0] != "ok":
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    def idle_baseline(seconds: float) -> float:
        """The worst gap with no job running: what the machine itself costs
        (other processes, the X server), to read the figure below against."""
        marks: list[float] = []
        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(lambda: marks.append(time.perf_counter()))
        probe.start()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        probe.stop()
        return max((b - a) * 1000.0 for a, b in zip(marks, marks[1:]))

    if "--warm" in sys.argv:
        # What launch() does half a second after the first paint: a run
        # started once it has finished does not pay for TensorFlow's import.
        model_provider.warm_up()
    baseline = idle_baseline(2.0)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    started = time.perf_counter()
    handle = controller.models.detect_and_classify([s.id for s in controller.session.store.slides()])
    timer.start()
    while handle.running or controller.models.running:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        # Pan a little every frame, as a technician reviewing meanwhile would.
        if pan:
            window.view.horizontalScrollBar().setValue((window.view.horizontalScrollBar().value() + 3) % 50)
    elapsed = time.perf_counter() - started
    for _ in range(20):
        app.processEvents()
    timer.stop()
    gaps = [(b - a) * 1000.0 for a, b in zip(ticks, ticks[1:])]
    worst = sorted(((gap, (ticks[i] - started) * 1000.0) for i, gap in enumerate(gaps)), reverse=True)[:5]
    cells = len(controller.session.store.cells())
    window.close()
    state = (
        "bundled models, " + ("TensorFlow warmed up" if "--warm" in sys.argv else "TensorFlow imported during the run")
        if real
        else "fake models"
    )
    print(f"detect+classify {count} slides ({state}): {elapsed:.1f} s, {cells} cells written")
    print(
        f"event loop during the run: max stall {max(gaps):.1f} ms, p99 {statistics.quantiles(gaps, n=100)[98]:.1f} ms, "
        f"median tick gap {statistics.median(gaps):.1f} ms over {len(gaps)} ticks"
    )
    print(f"for reference, the same window idle (no job) on this machine: max stall {baseline:.1f} ms")
    print("worst stalls (ms, at ms into the run): " + ", ".join(f"{gap:.0f} @ {at:.0f}" for gap, at in worst))
    met = max(gaps) <= GOAL_MAX_STALL_MS
    print(f"goal: max stall <= {GOAL_MAX_STALL_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
