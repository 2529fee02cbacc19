"""Detect and classify through the worker with fast fake models: the UI
follows through signals while the job runs, Cancel stops it, and a missing
model is a message, not a crash."""

from __future__ import annotations

from conftest import wait_image

from app.gui import model_provider
from core.schema import Box, CellKind, LabelSource


def test_detect_and_classify_update_the_window(qtbot, open_window, project_path, fake_models):
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    slide = controller.slide
    progress_seen = []
    controller.models.progress.connect(progress_seen.append)

    with qtbot.waitSignal(controller.models.finished, timeout=10000) as finished:
        window.actions["detect_all"].trigger()
        assert window.job_progress.isVisible() and window.cancel_button.isVisible()
        assert not window.actions["detect_slide"].isEnabled()  # one model job at a time
    assert "finished" in finished.args[0]
    # Every slide was reported as it was done.
    assert {p.payload for p in progress_seen if p.payload is not None} == {
        s.id for s in controller.session.store.slides()
    }
    qtbot.waitUntil(lambda: len(controller.canvas.cells()) == 8)
    white = [c for c in controller.canvas.cells() if c.kind is CellKind.WHITE]
    assert len(white) == 1 and white[0].source is LabelSource.MODEL and not white[0].reviewed
    assert controller.canvas.item(white[0].id).look.proposal  # dashed until reviewed
    for row in range(window.slide_model.rowCount()):
        other = window.slide_model.slide_at(row)
        assert window.slide_model.counts(other.id).white == 1
        assert other.status.value == "proposed"
    assert not window.job_progress.isVisible()

    with qtbot.waitSignal(controller.models.finished, timeout=10000):
        window.actions["classify_slide"].trigger()
    qtbot.waitUntil(lambda: controller.session.store.cell(white[0].id).label is not None)
    classified = controller.session.store.cell(white[0].id)
    assert classified.model_version == "fake-classifier-1"
    assert classified.label in ("lymphocyte", "neutrophil")
    controller.canvas.select(classified.id)
    tag = controller.canvas.item(classified.id).look.tag
    assert tag.split()[0].lower() == classified.label and tag.endswith(" 86%")
    assert window.inspector.fields["Model"].text() == "fake-classifier-1"
    assert window.inspector.bars[0][1].isVisible()
    # The other slides were not classified (current slide only).
    others = [c for c in controller.session.store.cells() if c.slide_id != slide.id and c.kind is CellKind.WHITE]
    assert all(c.label is None for c in others)


def test_a_signed_off_slide_is_passed_by_and_named_once(qtbot, open_window, project_path, fake_models):
    window, controller = open_window(project_path)
    wait_image(qtbot, controller)
    store = controller.session.store
    locked = store.slides()[0]
    store.add_cell(locked.id, Box(2, 2, 20, 20), CellKind.WHITE, label="neutrophil")
    store.sign_off(locked.id, "tech", target=1)
    with qtbot.waitSignal(controller.models.finished, timeout=10000) as finished:
        window.actions["pipeline_all"].trigger()
    message = finished.args[0]
    assert "1 slide skipped" in message and "signed off" in message, message
    assert len(store.cells(locked.id)) == 1  # left as it was
    assert all(len(store.cells(s.id)) == 8 for s in store.slides()[1:])  # the others were done


def test_cancel_stops_a_long_run_and_keeps_what_is_done(qtbot, open_window, project_path):
    from fake_models import FakeClassifier, FakeDetector

    model_provider.use_models(detector=lambda: FakeDetector(delay_s=0.3), classifier=FakeClassifier)
    try:
        window, controller = open_window(project_path)
        with qtbot.waitSignal(controller.models.progress, timeout=5000,
                              check_params_cb=lambda p: p.payload is not None):
            controller.models.detect_and_classify([s.id for s in controller.session.store.slides()])
        with qtbot.waitSignal(controller.models.finished, timeout=5000) as finished:
            window.cancel_button.click()
        assert "cancelled" in finished.args[0]
        detected = {c.slide_id for c in controller.session.store.cells()}
        assert 1 <= len(detected) < 4
        assert not controller.models.running
    finally:
        model_provider.use_models()


def test_unavailable_model_is_a_message_not_a_crash(qtbot, open_window, project_path, monkeypatch, tmp_path):
    # An installation whose models folder is empty: the real loader fails.
    monkeypatch.setenv("HEMALABEL_BUNDLED_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("HEMALABEL_MODELS_DIR", str(tmp_path / "no-user-models"))
    model_provider.use_models()
    window, controller = open_window(project_path)
    with qtbot.waitSignal(controller.models.failed, timeout=20000) as failed:
        window.actions["detect_slide"].trigger()
    assert "Model not available" in failed.args[0] and "cell-detector.json" in failed.args[0]
    qtbot.waitUntil(lambda: not controller.models.running)
    assert "Model not available" in window.statusBar().currentMessage()
    assert window.actions["detect_slide"].isEnabled()


def test_event_loop_keeps_running_during_a_run(qtbot, open_window, project_path, fake_models):
    """The GUI thread is never the one doing the work: timers keep firing."""
    import time

    from PySide6.QtCore import QTimer

    window, controller = open_window(project_path)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)
    started = time.perf_counter()
    with qtbot.waitSignal(controller.models.finished, timeout=20000):
        controller.models.detect_and_classify([s.id for s in controller.session.store.slides()] * 10)
    duration = time.perf_counter() - started
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    # Were the work on the GUI thread, one gap would span most of the run.
    assert gaps and max(gaps) < max(0.3, duration / 3)


def test_worker_signals(qtbot):
    from app.gui.worker import start_job
    from core.jobs import Progress

    def counting(token):  # noqa: ANN001
        for index in range(3):
            yield Progress(index + 1, 3, payload=index)
        return "done"

    def failing(token):  # noqa: ANN001
        yield Progress(1, 2)
        raise ValueError("bad slide")

    def endless(token):  # noqa: ANN001
        import time

        while True:
            time.sleep(0.01)
            yield Progress(0, 0)

    seen, results, errors = [], [], []
    handle = start_job("count", counting, on_progress=lambda p: seen.append(p.payload), on_result=results.append)
    qtbot.waitUntil(lambda: results == ["done"], timeout=5000)
    assert seen == [0, 1, 2]  # every progress arrives, in order, before the result
    qtbot.waitUntil(lambda: not handle.running)

    handle = start_job("fail", failing, on_error=lambda message, exc: errors.append((message, exc)))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert "bad slide" in errors[0][0] and isinstance(errors[0][1], ValueError)
    qtbot.waitUntil(lambda: not handle.running)

    from app.gui.worker import active_jobs

    handle = start_job("endless", endless)
    assert handle in active_jobs()  # what the no_worker_left_running fixture checks after each test
    with qtbot.waitSignal(handle.cancelled, timeout=5000):
        handle.cancel()
    assert handle.wait(5)
    assert handle not in active_jobs()


def test_browser_makes_thumbnails_lazily_and_shows_counts(qtbot, open_window, project_path):
    window, controller = open_window(project_path)
    model = window.slide_model
    ids = [s.id for s in controller.session.store.slides()]
    qtbot.waitUntil(lambda: all(model.thumbnails.pixmap(i) is not None for i in ids), timeout=5000)
    assert model.thumbnails.pixmap(ids[0]).width() <= 96
    assert "0 WBC" in model.counts(ids[0]).text()
    assert "New" in model.data(model.index(0), 0x0003)  # tooltip names the status


def test_undo_waits_for_a_model_run(qtbot, open_window, project_path):
    from fake_models import FakeClassifier, FakeDetector

    model_provider.use_models(detector=lambda: FakeDetector(delay_s=0.2), classifier=FakeClassifier)
    try:
        window, controller = open_window(project_path)
        from core.schema import Box

        controller.session.store.add_cell(controller.slide.id, Box(1, 1, 20, 20), CellKind.WHITE)
        controller.models.detect([s.id for s in controller.session.store.slides()])
        assert not window.actions["undo"].isEnabled()
        controller.undo()  # refused with a message, nothing undone
        assert len([c for c in controller.session.store.cells() if c.source is LabelSource.HUMAN]) == 1
        with qtbot.waitSignal(controller.models.finished, timeout=5000):
            controller.models.cancel()
        assert window.actions["undo"].isEnabled()
    finally:
        model_provider.use_models()


def test_detection_says_what_the_box_corrections_changed(qtbot, open_window, tmp_path):
    """After three reviewed fields the wrong white boxes drop on the others,
    and the status line says so (the instant path of core.detection.
    proposal_learning, through the window's detect)."""
    import numpy as np
    from PIL import Image

    from core.detection.proposal_learning import MIN_EXAMPLES
    from core.store import ProjectStore
    from tests.core.test_familiarity import PURPLE, stained
    from tests.core.test_proposal_learning import BLUE_GREY, RED_CENTRES, RedAsWhiteDetector, review

    path = tmp_path / "lab.hemalabel"
    rng = np.random.default_rng(0)
    with ProjectStore.create(path) as store:
        for i in range(5):
            Image.fromarray(stained(BLUE_GREY, PURPLE, rng)).save(tmp_path / f"field{i}.png")
            store.add_slide(tmp_path / f"field{i}.png", 200, 230)
    model_provider.use_models(detector=RedAsWhiteDetector)
    try:
        window, controller = open_window(path)
        store = controller.session.store
        slides = [slide.id for slide in store.slides()]
        with qtbot.waitSignal(controller.models.finished, timeout=10000) as finished:
            controller.models.detect(slides)
        assert "taught" not in finished.args[0]
        for slide_id in slides[:MIN_EXAMPLES]:
            review(store, slide_id)
        with qtbot.waitSignal(controller.models.finished, timeout=10000) as finished:
            controller.models.detect(slides)
        removed = 2 * len(RED_CENTRES)
        assert (f"taught by {MIN_EXAMPLES * (len(RED_CENTRES) + 1)} reviewed proposals of this project: "
                f"{removed} proposals removed on 2 slides") in finished.args[0]
        assert all(len(store.cells(slide_id)) == 1 for slide_id in slides[MIN_EXAMPLES:])
        assert finished.args[0] in window.statusBar().currentMessage()
    finally:
        model_provider.use_models()
