"""Models > Retrain…: the queue, the settings, the live fine-tune, the
comparison and the decision, in one dialog, for the classifier or (chosen
on the Settings tab) the cell detector.

The fine-tune (`core.retraining.retrain`, a generator whose training runs in
a child process) goes through the window's one worker helper, as detection
and import do, so the window keeps painting; Cancel cancels the job's token
and core terminates the child.  The queue and the insights are read in the
background through the same helper.  Nothing here raises into Qt: every
failure ends as text in the dialog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui import model_provider
from app.gui.retrain import backend
from app.gui.retrain.discard import TITLE, ask_discard, discard_question
from app.gui.retrain.insights_tab import InsightsTab
from app.gui.retrain.prefs import load_settings, save_settings
from app.gui.retrain.queue_tab import QueueTab
from app.gui.retrain.results_tab import ResultsTab
from app.gui.retrain.settings_form import DETECTOR, SettingsForm
from app.gui.retrain.training_tab import TrainingTab
from app.gui.worker import JobHandle, start_call, start_job
from core.detection.project_fields import ProjectFields
from core.jobs import CancelToken, Job, Progress
from core.project_learning import CurvePoint
from core.retraining import Insights, QueueSummary, RetrainOutcome, RetrainSettings
from core.retraining.detector_job import DetectorRetrainOutcome
from core.store import ProjectStore


class RetrainDialog(QDialog):
    promoted = Signal(str)  # the classifier now current
    message = Signal(str)  # a line for the main window's status bar

    def __init__(self, parent: QWidget | None, store: ProjectStore) -> None:
        super().__init__(parent)
        self.setObjectName("retrainDialog")
        self.setWindowTitle("Retrain the Classifier")
        self.resize(1040, 760)
        self.store = store
        self.project_path = store.path  # a file or a server's address: the job opens it again
        self.job: JobHandle | None = None
        self.outcome: RetrainOutcome | DetectorRetrainOutcome | None = None
        self.summary: QueueSummary | None = None
        self.enough_fields: bool | None = None  # None: the reviewed fields are being counted
        self._close_when_done = False

        self.queue_tab = QueueTab()
        self.settings_form = SettingsForm()
        self.training_tab = TrainingTab()
        self.results_tab = ResultsTab()
        self.insights_tab = InsightsTab()
        # Classes as the rest of the window names them ("Immature granulocyte", not "ig").
        for tab in (self.queue_tab, self.results_tab, self.insights_tab):
            tab.taxonomy = store.taxonomy
        self.tabs = QTabWidget()
        self.tabs.setObjectName("retrainTabs")
        for widget, text in ((self.queue_tab, "&Queue"), (self.settings_form, "Se&ttings"),
                             (self.training_tab, "Trainin&g"), (self.results_tab, "Res&ults"),
                             (self.insights_tab, "&Insights")):
            self.tabs.addTab(widget, text)
        self.status = QLabel("")
        self.status.setObjectName("retrainStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("&Start Retraining")
        self.start_button.setObjectName("startRetrain")
        self.cancel_button = QPushButton("&Cancel Training")
        self.cancel_button.setObjectName("cancelRetrain")
        self.cancel_button.setToolTip("Stop the fine-tune; nothing is registered (Esc also stops it, then closes)")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        buttons = QDialogButtonBox()
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        # No default button: Enter in a settings field must neither start
        # minutes of training nor close the dialog and lose what was typed
        # (with none set, the dialog made the first button its default).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)

        self.settings_form.set_settings(load_settings())
        self.settings_form.min_new_class_changed.connect(self._min_new_class_changed)
        self.settings_form.min_examples.valueChanged.connect(self._min_examples_changed)
        self.settings_form.kind_changed.connect(self._kind_changed)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.results_tab.promote_button.clicked.connect(self.promote)
        self.results_tab.discard_button.clicked.connect(self.discard)
        # Asked before the candidate's files are deleted; a test answers it.
        self.confirm: Callable[[str, str], bool] = lambda title, text: ask_discard(self, title, text)
        self._update_start()
        self._read_project()

    # ------------------------------------------------------------ queue and insights
    def _read_project(self) -> None:
        """Queue and insights read cells (and crops) from disk: off the GUI thread."""
        store = self.store
        # The handles have no parent: closing the dialog (deleted on close)
        # before a read ends must not delete the QObject a pool thread is
        # about to emit from.  Bound methods of the dialog are disconnected
        # by Qt when it goes, so a late answer reaches nobody.
        start_call("Reading the retrain queue", lambda: backend.summary(store), None,
                   on_result=self._summary_ready, on_error=self._summary_failed)
        start_call("Counting the reviewed fields", lambda: backend.detector_fields(store), None,
                   on_result=self._fields_ready, on_error=self._fields_failed)
        start_call("Reading dataset insights", lambda: backend.insights(store), None,
                   on_result=self._insights_ready, on_error=self._insights_failed)
        # Apart: it loads the network, which may take seconds the counts need not wait for.
        def read_curve(token: CancelToken) -> Job[list[CurvePoint]]:
            return backend.learning_curve(store, token)
            yield  # a generator, as start_job runs

        # Cancelled when the dialog closes: it reads every reviewed slide.
        self._curve_job = start_job("Reading the learning curve", read_curve, None,
                                    on_result=self.insights_tab.show_curve, on_error=self._curve_failed)

    def _summary_ready(self, summary: QueueSummary) -> None:
        self.summary = summary
        self.queue_tab.show_summary(summary, self.settings_form.min_new_class.value())
        self.queue_tab.show_readiness(summary, self.settings_form.min_examples.value())
        self._update_start()

    def _summary_failed(self, _message: str, error: object) -> None:
        self.queue_tab.show_error(str(error))

    def _fields_ready(self, found: ProjectFields) -> None:
        self.enough_fields = self.settings_form.show_detector_fields(found)
        self._update_start()

    def _fields_failed(self, _message: str, error: object) -> None:
        self.enough_fields = False
        self.settings_form.detector_fields.setText(f"Could not count the reviewed fields: {error}")
        self._update_start()

    def _insights_ready(self, insights: Insights) -> None:
        self.insights_tab.show_insights(insights)

    def _insights_failed(self, _message: str, error: object) -> None:
        self.insights_tab.show_error(str(error))

    def _curve_failed(self, _message: str, error: object) -> None:
        self.insights_tab.curve_note.setText(f"Could not draw the learning curve: {error}")

    def _min_new_class_changed(self, value: int) -> None:
        if self.summary is not None:
            self.queue_tab.show_new_classes(self.summary, value)

    def _min_examples_changed(self, value: int) -> None:
        if self.summary is not None:
            self.queue_tab.show_readiness(self.summary, value)
        self._update_start()

    # ------------------------------------------------------------ the fine-tune
    @property
    def running(self) -> bool:
        return self.job is not None

    def current_settings(self) -> RetrainSettings:
        return self.settings_form.apply_to(load_settings())

    @property
    def detector_chosen(self) -> bool:
        return self.settings_form.kind == DETECTOR

    def _kind_changed(self, _kind: str) -> None:
        self.setWindowTitle("Retrain the Detector" if self.detector_chosen else "Retrain the Classifier")
        self._update_start()

    def start(self) -> JobHandle | None:
        if self.running:
            return None
        project = self.project_path
        roots = self.store.image_roots  # the user's image folders, as the window maps them
        job: Callable[[CancelToken], Job[Any]]
        if self.detector_chosen:
            detector_settings = self.settings_form.detector_settings()

            def job(token: CancelToken) -> Job[Any]:
                return backend.retrain_detector(project, detector_settings, token, roots)
        else:
            settings = self.current_settings()
            save_settings(settings)

            def job(token: CancelToken) -> Job[Any]:
                return backend.retrain(project, settings, token, roots)

        self.outcome = None
        self.results_tab.clear()
        self.training_tab.reset()
        self.tabs.setCurrentWidget(self.training_tab)
        self._set_running(True)
        self._say("Fine-tuning a candidate; the window stays usable. Cancel stops it and registers nothing.")
        # Bound methods of this dialog: Qt queues each signal to the GUI thread.
        what = "the detector" if self.detector_chosen else "the classifier"
        self.job = start_job(f"Retraining {what}", job, self,
                             on_progress=self._on_progress, on_result=self._on_result, on_error=self._on_error,
                             on_cancelled=self._on_cancelled, on_finished=self._on_finished)
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self._say("Cancelling: stopping the training process\u2026")
            self.cancel_button.setEnabled(False)
            self.job.cancel()

    def _on_progress(self, progress: Progress) -> None:
        self.training_tab.on_progress(progress)

    def _on_result(self, outcome: RetrainOutcome | DetectorRetrainOutcome) -> None:
        self.outcome = outcome
        self.training_tab.finished(f"Finished in {outcome.seconds:.0f} s: candidate {outcome.candidate.name}.")
        if isinstance(outcome, DetectorRetrainOutcome):
            self.results_tab.show_detector_outcome(outcome)
        else:
            self.results_tab.show_outcome(outcome)
        self.tabs.setCurrentWidget(self.results_tab)
        self._say(outcome.comparison.recommendation)

    def _on_error(self, _message: str, error: object) -> None:
        text = str(error) or type(error).__name__
        self.training_tab.show_error(text)
        self.tabs.setCurrentWidget(self.training_tab)
        self._say(
            f"Retraining failed; the current model is unchanged. {text.splitlines()[0] if text else ''}", error=True
        )

    def _on_cancelled(self) -> None:
        self.training_tab.stopped("Cancelled: the training process was stopped and nothing was registered.")
        self._say("Cancelled; the current model is unchanged.")

    def _on_finished(self) -> None:
        self.job = None
        self._set_running(False)
        if self._close_when_done:
            super().reject()

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.settings_form.setEnabled(not running)
        self._update_start(running)

    def _update_start(self, running: bool | None = None) -> None:
        """Start only once the queue is counted and holds enough examples:
        core would refuse the run anyway, after the child process started."""
        running = self.running if running is None else running
        if self.detector_chosen:
            self.start_button.setEnabled(bool(self.enough_fields) and not running)
            self.start_button.setToolTip(
                "Fine-tune a detector candidate on the reviewed fields; the detector in use stays until you promote"
                if self.enough_fields else self.settings_form.detector_fields.text()
            )
            return
        enough = self.summary is not None and self.summary.total_examples >= self.settings_form.min_examples.value()
        self.start_button.setEnabled(enough and not running)
        self.start_button.setToolTip(
            "Fine-tune a candidate on the queue; the current model stays in use until you promote" if enough
            else "Counting the queue…" if self.summary is None
            else self.queue_tab.readiness.text()
        )

    # ------------------------------------------------------------ the decision
    def promote(self) -> None:
        if self.outcome is None:
            return
        name = self.outcome.candidate.name
        what, use = self._model_words()
        try:
            self._registry().promote(name)
        except Exception as error:  # noqa: BLE001 - a registry refusal or a disk error, shown
            self.results_tab.decision.setText(f"<span style='color:#b00020'>Not promoted: {error}</span>")
            return
        # The window's loaded models are the old ones: drop them so the next
        # Classify or Detect loads the model just promoted.
        model_provider.forget_loaded_models()
        self.results_tab.set_decision_enabled(False)
        self.results_tab.decision.setText(f"<b>{name}</b> is now the current {what}; {use} slides to use it.")
        self._say(f"{name} promoted. Models\u2026 rolls back if needed.")
        if what == "classifier":  # the window names the classifier in use, not the detector
            self.promoted.emit(name)
        self.message.emit(f"{name} is now the current {what}")

    def discard(self) -> None:
        if self.outcome is None:
            return
        name = self.outcome.candidate.name
        if not self.confirm(TITLE, discard_question(name, self.outcome.seconds)):
            return
        try:
            self._registry().discard(name)
        except Exception as error:  # noqa: BLE001
            self.results_tab.decision.setText(f"<span style='color:#b00020'>Not discarded: {error}</span>")
            return
        self.results_tab.set_decision_enabled(False)
        self.results_tab.decision.setText(f"{name} discarded; the current {self._model_words()[0]} is unchanged.")
        self._say(f"{name} discarded.")
        self.message.emit(f"Candidate {name} discarded")

    def _registry(self) -> Any:
        """The registry of the model the outcome is of."""
        return backend.registry("detector") if isinstance(self.outcome, DetectorRetrainOutcome) else backend.registry()

    def _model_words(self) -> tuple[str, str]:
        """(what the outcome's model is, what a person does to use it)."""
        if isinstance(self.outcome, DetectorRetrainOutcome):
            return "detector", "detect"
        return "classifier", "classify"

    # ------------------------------------------------------------ closing
    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.status.setText(text)

    def reject(self) -> None:
        """Esc or Close while training cancels the run; the dialog closes once
        the child process is gone."""
        if self.running:
            self._close_when_done = True
            self.cancel()
            return
        super().reject()

    def done(self, result: int) -> None:  # every way it closes ends in here
        self._curve_job.cancel()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.running:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)
