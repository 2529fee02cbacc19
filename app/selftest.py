"""`hemalabel --self-test`: prove an installation works end to end.

Loads the bundled models (the single-cell locator's box refiner too),
detects and classifies on a generated smear, runs
the same through a throw-away project, opens and closes the main window, and
exits non-zero on any failure.  It is what the bundle build script runs, and
what a lab's IT runs after installing.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.wording import counted

EXIT_FAILED = 3


def generated_smear(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A synthetic field: pale pink background, red cells, one stained white cell."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = (238, 222, 226)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(25):
        cx, cy = rng.integers(20, width - 20), rng.integers(20, height - 20)
        image[(xx - cx) ** 2 + (yy - cy) ** 2 < 28**2] = (214, 128, 140)
    cx, cy = width // 2, height // 2
    image[(xx - cx) ** 2 + (yy - cy) ** 2 < 45**2] = (196, 170, 220)
    image[(xx - cx) ** 2 + (yy - cy) ** 2 < 25**2] = (90, 40, 130)
    return image


def run_self_test(show_window: Callable[[], None] | None = None) -> int:
    """Run every check, print one line each, return the exit status."""
    from app.gui import model_provider
    from core.inference import classify_slides, detect_slides
    from core.jobs import run_job
    from core.store import ProjectStore

    state: dict[str, Any] = {}  # what each check leaves for the next (the loaded models)
    image = generated_smear()

    def detector() -> str:
        model = model_provider.default_detector()
        detections = model.detect(image)
        height, width = image.shape[:2]
        assert all(0 <= d.box.x0 <= d.box.x1 <= width and 0 <= d.box.y0 <= d.box.y1 <= height for d in detections)
        assert model.detect(np.zeros((1, 1, 3), np.uint8)) == [], "a 1x1 image must give no boxes"
        state["detector"] = model
        return f"version {model.version}, {len(detections)} boxes on a generated field"

    def classifier() -> str:
        model = model_provider.default_classifier()
        crops = [image[190:290, 270:370], image[0:100, 0:100]]
        probabilities = np.asarray(model.predict(crops))
        assert probabilities.shape == (2, len(model.classes)), probabilities.shape
        assert np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
        state["classifier"] = model
        # The bundled Classifier says what runs its network (TensorFlow Lite,
        # or TensorFlow and why not Lite); other CellClassifiers need not.
        runtime = getattr(model, "runtime", "")
        return f"version {model.version}, {len(model.classes)} classes" + (f", network on {runtime}" if runtime else "")

    def locator() -> str:
        # Single-cell images: the detector and the box refiner the locator needs.
        from core.locating import load_locator

        found = load_locator().locate([image[150:330, 230:410]])[0]
        return f"a generated single-cell image's cell {found.placement.value}, box refiner loaded"

    def project() -> str:
        from PIL import Image

        if "detector" not in state or "classifier" not in state:
            raise RuntimeError("skipped: needs both models")

        with tempfile.TemporaryDirectory(prefix="hemalabel-selftest-") as folder:
            path = Path(folder) / "slide.png"
            Image.fromarray(image).save(path)
            with ProjectStore.create(Path(folder) / "selftest.hemalabel") as store:
                slide = store.add_slide(path, image.shape[1], image.shape[0])
                run_job(detect_slides(store, state["detector"], [slide.id]))
                run_job(classify_slides(store, state["classifier"], [slide.id]))
                cells = store.cells(slide.id)
                store.undo()
                assert len(store.cells(slide.id)) <= len(cells)
        return f"{len(cells)} cells detected and classified in a project, undo works"

    def sample() -> str:
        # Help > Open Sample Project's fields: proves the bundle carries them.
        from core.sample_project import prepare_sample_project

        with (
            tempfile.TemporaryDirectory(prefix="hemalabel-selftest-") as folder,
            ProjectStore.open(run_job(prepare_sample_project(folder))) as store,
        ):
            slides, cells = len(store.slides()), len(store.cells())
        assert slides and cells, "the sample project has no slides or no cells"
        return f"{counted(slides, 'slide')} and {counted(cells, 'cell')} in the sample project"

    checks: list[tuple[str, Callable[[], str]]] = [("detector", detector), ("classifier", classifier),
                                                  ("locator", locator)]
    checks += [("project", project), ("sample", sample)]
    if os.environ.get("HEMALABEL_SELF_TEST_WINDOW_ONLY"):
        checks = []  # the bundle script times the window's cold start alone
    if show_window is not None:
        checks.append(("window", lambda: (show_window(), "opened and closed")[1]))

    failed = 0
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail = check()
        except Exception as error:  # a self-test reports every failure and goes on
            failed += 1
            print(f"{name}: FAILED: {type(error).__name__}: {error}")
            if not isinstance(error, (model_provider.ModelUnavailable, RuntimeError)):
                traceback.print_exc()  # unexpected: the trace is what a bug report needs
            continue
        print(f"{name}: ok ({detail}; {(time.perf_counter() - started) * 1000:.0f} ms)")
    print("self-test: " + ("passed" if not failed else f"{counted(failed, 'check')} FAILED"))
    return 0 if not failed else EXIT_FAILED
