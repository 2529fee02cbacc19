"""GUI test set-up: offscreen Qt, settings kept out of the user's own, a
small reviewed-by-model project built from images made in tmp_path, and the
review window's fixtures (generated slides, fake models, a shown main window,
a check that no worker job is left running)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.importing import import_source  # noqa: E402
from core.jobs import run_job  # noqa: E402
from core.schema import Box, CellKind, LabelSource, NewCell  # noqa: E402
from core.store import ProjectStore  # noqa: E402

# The classes of the small project, in cell order, and what the model said.
PREDICTED = ["neutrophil", "neutrophil", "lymphocyte", "unidentified", "monocyte", "neutrophil"]
CONFIDENCE = [0.95, 0.62, 0.88, 0.41, 0.70, 0.81]


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """QSettings write into a temporary folder, never the tester's own."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("HemaLabelTests")
    QCoreApplication.setApplicationName("HemaLabelTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path_factory.mktemp("settings")))
    yield


def predictions_for(label: str, confidence: float, classes: list[str]) -> dict[str, float]:
    others = [c for c in classes if c not in (label, "unidentified")]
    rest = (1.0 - confidence) / len(others)
    probabilities = {c: rest for c in others}
    if label == "unidentified":
        probabilities["neutrophil"] = confidence  # the model's best guess, below its threshold
    else:
        probabilities[label] = confidence
    return probabilities


@pytest.fixture
def review_store(tmp_path: Path) -> Iterator[ProjectStore]:
    """Two slides: slide 1 has six white cells with model predictions, one
    red cell and one platelet; slide 2 has two white cells."""
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    fill_review_store(store, tmp_path)
    yield store
    store.close()


@pytest.fixture
def review_project(tmp_path: Path) -> Path:
    """The review_store's project as a closed file, for the main window to open."""
    path = tmp_path / "review" / "p.hemalabel"
    path.parent.mkdir()
    with ProjectStore.create(path) as store:
        fill_review_store(store, path.parent)
    return path


def fill_review_store(store: ProjectStore, tmp_path: Path) -> None:
    classes = [c for c in store.taxonomy.names if c != "unidentified"]
    rng = np.random.default_rng(0)
    for n, count in enumerate((len(PREDICTED), 2)):
        path = tmp_path / f"slide{n}.png"
        cv2.imwrite(str(path), rng.integers(100, 230, (120, 200, 3), dtype=np.uint8))
        slide = store.add_slide(path, 200, 120)
        new = [
            NewCell(Box(5 + 30 * i, 10, 30 + 30 * i, 35), CellKind.WHITE, source=LabelSource.MODEL)
            for i in range(count)
        ]
        new += [NewCell(Box(10, 60, 30, 80), CellKind.RED, source=LabelSource.MODEL),
                NewCell(Box(40, 60, 50, 70), CellKind.PLATELET, label="platelet", source=LabelSource.MODEL)]
        added = store.add_cells(slide.id, new)
        white = [c for c in added if c.kind is CellKind.WHITE]
        labels = PREDICTED if n == 0 else ["lymphocyte", "neutrophil"]
        confidences = CONFIDENCE if n == 0 else [0.9, 0.9]
        store.set_predictions(
            [
                (c.id, label, predictions_for(label, conf, classes))
                for c, label, conf in zip(white, labels, confidences)
            ],
            "test-model-1",
        )


# --------------------------------------------------------------------------- the review window

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
def window_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The main window's AppSettings read HEMALABEL_SETTINGS: one INI per test."""
    settings = tmp_path / "settings.ini"
    # Learning from each decision loads the real classifier in the
    # background: off unless a test is about it (test_teaching.py).
    settings.write_text("[review]\nlearn_at_once=false\n", encoding="utf-8")
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
    # This test's dead widgets are freed here, on the GUI thread, while no
    # job runs: left to the collector, a pool thread of the next test could
    # free them and deadlock against the GUI thread on Qt's lock.
    gc.collect()


@pytest.fixture
def fake_models():
    from fake_models import FakeClassifier, FakeDetector

    from app.gui import model_provider

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
            # The look for missing image folders answers in the background.
            qtbot.waitUntil(lambda: not controller.image_folders.checking)
        made.append(window)
        return window, controller

    yield factory
    for window in made:
        window.close()


def wait_image(qtbot, controller, state: str = "ok", timeout: int = 5000) -> None:
    qtbot.waitUntil(lambda: controller.canvas.image_state[0] == state, timeout=timeout)


def small_labelled_store(tmp_path: Path, slides: int) -> ProjectStore:
    """A project of plain grey slides, each with a reviewed neutrophil and
    a red cell: enough for the import and export dialogs."""
    store = ProjectStore.create(tmp_path / "p.hemalabel")
    for n in range(slides):
        path = tmp_path / f"s{n}.png"
        cv2.imwrite(str(path), np.full((48, 64, 3), 100, np.uint8))
        slide = store.add_slide(path, 64, 48)
        store.add_cells(slide.id, [NewCell(Box(2, 2, 20, 20), CellKind.WHITE, "neutrophil", reviewed=True),
                                   NewCell(Box(30, 10, 40, 20), CellKind.RED)])
    return store


def make_server_project(address: str, tmp_path: Path) -> None:
    """Two small slides with one lymphocyte each, made at `address` (the
    server tests' postgres_url); their images under tmp_path/smears."""
    with ProjectStore.create(address) as store:
        for n in range(2):
            slide = store.add_slide(make_slide_image(tmp_path / "smears" / f"field_{n}.png", 64, 48, seed=n), 64, 48)
            store.add_cell(slide.id, Box(4, 4, 30, 30), CellKind.WHITE, "lymphocyte")
