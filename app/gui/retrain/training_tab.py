"""The Training tab: live loss and accuracy curves (train and validation)
per epoch, a progress bar, the time left and the child process's log.

Filled from the job's Progress: payload kind "epoch" adds a point to each
curve, kind "log" appends a line, a plain message is a phase."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from app.gui.style import configure_pyqtgraph, whole_number_ticks
from core.jobs import Progress

SERIES = ("loss", "val_loss", "accuracy", "val_accuracy")
_PENS = {
    "loss": ("#1f5fbf", "train"),
    "val_loss": ("#d9822b", "validation"),
    "accuracy": ("#1f5fbf", "train"),
    "val_accuracy": ("#d9822b", "validation"),
}
# A runaway log (a noisy TensorFlow) must not grow the widget without end.
MAX_LOG_LINES = 5000
MAX_EPOCH_TICKS = 20  # a tick at every epoch up to this many (the fine-tune's default is 15)


class TrainingTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self.points: dict[str, list[tuple[float, float]]] = {name: [] for name in SERIES}
        self.phase = QLabel("Press Start to fine-tune the model chosen on the Settings tab on this project's "
                            "reviewed work.")
        self.phase.setObjectName("trainingPhase")
        self.phase.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.time_left = QLabel("")
        self.time_left.setObjectName("timeLeft")
        # Legends where the curves are not: loss falls away from the top
        # right, accuracy rises away from the bottom right.
        self.loss_plot = self._plot("Loss", "loss", (-10, 10))
        self.accuracy_plot = self._plot("Accuracy", "accuracy", (-10, -10))
        self.accuracy_plot.setYRange(0.0, 1.0)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name in SERIES:
            plot = self.loss_plot if "loss" in name else self.accuracy_plot
            colour, label = _PENS[name]
            # Validation dashed, so the two read apart in grey print too.
            style = Qt.PenStyle.DashLine if name.startswith("val") else Qt.PenStyle.SolidLine
            self.curves[name] = plot.plot([], [], pen=pg.mkPen(colour, width=2, style=style), symbol="o", symbolSize=5,
                                          symbolBrush=colour, symbolPen=None, name=label)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("retrainLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(MAX_LOG_LINES)
        self.log_view.setFont(QFont("monospace", 9))
        self.log_view.setPlaceholderText("The training process's log appears here.")

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.time_left)
        layout.addWidget(self.phase)
        layout.addLayout(top)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        layout.addLayout(plots, 3)
        layout.addWidget(self.log_view, 2)

    def _plot(self, title: str, name: str, legend_offset: tuple[int, int]) -> pg.PlotWidget:
        plot = pg.PlotWidget(title=title)
        plot.setObjectName(f"{name}Plot")
        plot.setLabel("bottom", "epoch")
        # Before the first epoch: epochs 1-2, not pyqtgraph's 0-1.
        plot.setXRange(1, 2)
        whole_number_ticks(plot.getAxis("bottom"), 2, up_to=MAX_EPOCH_TICKS)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.addLegend(offset=legend_offset)
        plot.setMinimumHeight(180)
        return plot

    def reset(self) -> None:
        for name in SERIES:
            self.points[name] = []
            self.curves[name].setData([], [])
        self.progress.setRange(0, 0)  # busy until the first epoch
        self.time_left.setText("")
        self.log_view.clear()
        self.phase.setText("Starting the training process\u2026")

    def on_progress(self, progress: Progress) -> None:
        payload = progress.payload if isinstance(progress.payload, dict) else None
        kind = payload.get("kind") if payload else None
        if payload is not None and kind == "epoch":
            self.add_epoch(payload)
        elif payload is not None and kind == "log":
            self.append_log(str(payload.get("line", "")))
        elif progress.message:
            self.phase.setText(progress.message)
            self.append_log(f"\u2014 {progress.message}")

    def add_epoch(self, row: dict) -> None:
        epoch = float(row.get("epoch", len(self.points["loss"]) + 1))
        # A detector's epochs have a loss and no accuracy: no empty plot beside it.
        self.accuracy_plot.setVisible("accuracy" in row)
        for name in SERIES:
            value = row.get(name)
            if value is None:
                continue  # a run without validation cells has no val_* values
            self.points[name].append((epoch, float(value)))
            xs, ys = zip(*self.points[name])
            self.curves[name].setData(list(xs), list(ys))
        epochs = int(row.get("epochs") or 0)
        if epochs:
            # The axis spans the whole run, so the curves grow into it.
            for plot in (self.loss_plot, self.accuracy_plot):
                whole_number_ticks(plot.getAxis("bottom"), epochs, up_to=MAX_EPOCH_TICKS)
                plot.setXRange(1, max(epochs, 2), padding=0.02)
            self.progress.setRange(0, epochs)
            self.progress.setValue(int(epoch))
            self.progress.setFormat(f"epoch {int(epoch)} / {epochs}")
        self.phase.setText(_epoch_text(row))
        eta = row.get("eta_seconds")
        if eta is not None:
            self.time_left.setText(f"about {format_duration(float(eta))} left")

    def append_log(self, line: str) -> None:
        self.log_view.appendPlainText(line.rstrip("\n"))

    def set_log(self, text: str) -> None:
        """The whole log (the outcome's or the error's), replacing the live lines."""
        self.log_view.setPlainText(text.rstrip("\n"))
        self.log_view.verticalScrollBar().setValue(self.log_view.verticalScrollBar().maximum())

    def finished(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("done")
        self.time_left.setText("")
        self.phase.setText(text)

    def show_error(self, message: str) -> None:
        """A failed run: the first line where the eye lands, the whole message
        (which ends with the child's log tail) at the end of the log."""
        first = message.strip().splitlines()[0] if message.strip() else "The fine-tune failed."
        self.stopped(f"<span style='color:#b00020'><b>Retraining failed:</b> {_escape(first)}</span>")
        self.append_log("\u2014 error \u2014")
        self.append_log(message)

    def stopped(self, text: str) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.time_left.setText("")
        self.phase.setText(text)


def _epoch_text(row: dict) -> str:
    parts = [f"Epoch {row.get('epoch')} of {row.get('epochs')}"]
    for key, label in (("loss", "loss"), ("accuracy", "accuracy"), ("val_loss", "val. loss"),
                       ("val_accuracy", "val. accuracy")):
        if row.get(key) is not None:
            parts.append(f"{label} {float(row[key]):.3f}")
    return ", ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
