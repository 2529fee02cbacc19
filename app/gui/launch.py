"""Start the window.  Only Qt and the small core modules load here;
TensorFlow waits until a model is first needed (model_provider.py)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.gui import model_provider
from app.gui.main_controller import MainController
from app.gui.main_window import MainWindow
from app.gui.sample_controller import SampleProjectController
from app.gui.settings import AppSettings
from app.gui.style import apply_style, configure_pyqtgraph
from app.gui.unexpected_errors import UnexpectedErrorReporter
from app.gui.worker import start_call
from app.version import APP_NAME, app_version
from core.resources import resource_path


def make_application(argv: list[str] | None = None) -> QApplication:
    # Every Qt callback into Python must win the GIL from whichever worker
    # thread holds it; with the default 5 ms switch interval a burst of
    # callbacks queues behind a busy worker for tens of milliseconds.  1 ms
    # keeps the window's latency low at a small cost to the workers.
    sys.setswitchinterval(float(os.environ.get("HEMALABEL_GIL_SWITCH_S", "0.001")))
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(app_version())
    # The window's and the task bar's icon (the bundle's file icon comes
    # from the .ico/.icns in build_scripts/hemalabel.spec).
    app.setWindowIcon(QIcon(str(resource_path("icons/hemalabel.png"))))
    apply_style(app)
    # Once, at start-up, right after the first paint and before a project
    # opens (that is queued after this), so the differential plot finds it done.
    QTimer.singleShot(0, configure_pyqtgraph)
    return app


def create_main_window(
    project: str | None = None, settings: AppSettings | None = None
) -> tuple[MainWindow, MainController]:
    window = MainWindow()
    controller = MainController(window, settings)
    SampleProjectController(controller)  # Help > Open Sample Project…; lives as long as the controller
    if project:
        # After the first paint, so the window shows at once even for a big project.
        QTimer.singleShot(0, lambda: controller.open_project(project))
    return window, controller


# Long enough for the window's first paint and a project's first slide.
WARM_UP_DELAY_MS = 500


def launch(project: str | None = None, self_test: bool = False, started: float | None = None) -> int:
    """The window (on `project` if given); `started`: time.perf_counter() when
    the program began, for the self-test's figure (default: now)."""
    started = time.perf_counter() if started is None else started
    app = make_application()
    window, controller = create_main_window(project)
    window.show()
    if self_test:
        return _self_test(app, window, controller, time.perf_counter() - started)
    UnexpectedErrorReporter(window).install()
    QTimer.singleShot(WARM_UP_DELAY_MS, lambda: start_call("Loading TensorFlow", model_provider.warm_up, window))
    return app.exec()


def _self_test(app: QApplication, window: MainWindow, controller: MainController, shown_after: float) -> int:
    """Check the models and a project (app/selftest.py), then the window,
    which was shown `shown_after` seconds after start, before the models
    loaded (they take seconds, the window must not wait for them)."""
    from app.selftest import run_self_test

    def show_window() -> None:
        app.processEvents()
        if not window.isVisible():
            raise RuntimeError("main window did not appear")
        print(f"window: shown {shown_after * 1000:.0f} ms after start")
        window.close()
        app.processEvents()

    return run_self_test(show_window)


__all__ = ["launch", "make_application", "create_main_window", "Path"]
