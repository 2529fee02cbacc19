"""Start the real window on a BCCD slide with its boxes and save a PNG.

    xvfb-run -s "-screen 0 1600x1000x24" uv run python tests/benchmarks/screenshot_bccd.py [OUT.png]

Imports a few BCCD test fields into a temporary project, opens it, runs the
(fake, fast) classifier on the slide through the GUI so the inspector has
probabilities to show, selects a white cell and grabs the window.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "app")]
DATA = ROOT.parent / "shared" / "data" / "bccd"


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bccd_screenshot.png").resolve()
    if not DATA.is_dir():
        print(f"BCCD not found at {DATA}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hemalabel-shot-"))
    os.environ.setdefault("HEMALABEL_SETTINGS", str(work / "settings.ini"))

    from core.importing import import_source
    from core.jobs import run_job
    from core.store import ProjectStore

    project = work / "bccd.hemalabel"
    with ProjectStore.create(project) as store:
        run_job(import_source(store, DATA, "voc", split="test"))

    from fake_models import FakeClassifier, FakeDetector
    from PySide6.QtCore import QEventLoop, QTimer

    from app.gui import model_provider
    from app.gui.launch import create_main_window, make_application

    model_provider.use_models(detector=FakeDetector, classifier=FakeClassifier)
    app = make_application()
    window, controller = create_main_window()
    window.resize(1560, 940)
    window.show()
    controller.open_project(project)
    store = controller.session.store
    wanted = os.environ.get("SHOT_SLIDE")
    slides = store.slides()
    # By default the first field showing all three kinds: a white cell, red cells and platelets.
    slide = next((s for s in slides if wanted and wanted in s.path), None) or next(
        (s for s in slides if {c.kind.value for c in store.cells(s.id)} == {"white", "red", "platelet"}), slides[0]
    )
    controller.show_slide_id(slide.id)

    def pump(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    handle = controller.models.classify([slide.id])
    while handle is not None and handle.running:
        pump(0.05)
    pump(0.5)
    window.view.setFocus()
    controller.canvas.step()  # select the first white cell, as Tab would
    window.view.fit()
    pump(0.5)
    window.grab().save(str(out))
    print(f"saved {out}")
    window.close()
    QTimer.singleShot(0, app.quit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
