"""GUI tests run the real window offscreen, on small generated slides, with
fast fake models; any test that leaves a worker thread running fails."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # once, before Qt loads

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.importing import import_source  # noqa: E402
from core.jobs import run_job  # noqa: E402
from core.store import ProjectStore  # noqa: E402


def make_slide_image(path: Path, width: int = 320, height: int = 240, seed: int = 0) -> Path:
    """A pale pink field with red discs and one purple nucleus, like a smear."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), (226, 214, 232), dtype=np.uint8)  # BGR
    for _ in range(12):
        centre = (int(rng.integers(10, width - 10)), int(rng.integers(10, height - 10)))
        cv2.circle(image, centre, int(min(width, height) / 14), (170, 150, 220), -1)
    cv2.circle(image, (width // 2, height // 2), int(min(width, height) / 10), (170, 60, 110), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise RuntimeError(f"could not write {path}")
    return path


@pytest.fixture
def slides_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "slides"
    for index in range(4):
        make_slide_image(folder / f"slide_{index:02d}.png", seed=index)
    return folder


@pytest.fixture
def project_path(slides_dir: Path) -> Path:
    path = slides_dir / "review.hemalabel"
    with ProjectStore.create(path) as store:
        run_job(import_source(store, slides_dir, "folder"))
    return path


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings = tmp_path / "settings.ini"
    monkeypatch.setenv("HEMALABEL_SETTINGS", str(settings))
    return settings


@pytest.fixture(autouse=True)
def no_worker_left_running():
    """Fail a test that leaves a background job running (napari does the same):
    such a thread would write into the next test's project."""
    yield
    from app.gui import worker

    left = worker.active_jobs()
    if left:
        names = ", ".join(job.name for job in left)
        worker.cancel_all_and_wait(10.0)
        pytest.fail(f"test left worker job(s) running: {names}")


@pytest.fixture
def fake_models():
    from app.gui import model_provider
    from fake_models import FakeClassifier, FakeDetector

    model_provider.use_models(detector=FakeDetector, classifier=FakeClassifier)
    yield
    model_provider.use_models()


@pytest.fixture
def open_window(qtbot):
    """Factory: a shown main window (optionally on a project); closed at teardown."""
    from app.gui.launch import create_main_window, make_application

    make_application()
    made = []

    def factory(project: Path | None = None, **open_kwargs):
        window, controller = create_main_window()
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()  # window shortcuts need an active window
        qtbot.waitUntil(window.isActiveWindow)
        if project is not None:
            assert controller.open_project(project, **open_kwargs)
        made.append(window)
        return window, controller

    yield factory
    for window in made:
        window.close()


def wait_image(qtbot, controller, state: str = "ok", timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: controller.canvas.image_state[0] == state, timeout=timeout)
