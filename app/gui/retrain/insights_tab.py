"""The Insights tab: how many examples each class has (a bar chart) and the
colour make-up of one class's cells (red, green, blue and grey intensity
histograms), the class chosen in a combo box.  Lopsided counts or a class
whose stain differs from the rest are what a technician looks for before
trusting a fine-tune.  Below them, the project's learning curve: after each
number of decisions, how well what they taught (and the network alone)
labels the cells decided later."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.gui.retrain.boxes import chooser_row
from app.gui.style import configure_pyqtgraph, whole_number_ticks
from core.project_learning import CurvePoint
from core.retraining import Insights
from core.taxonomy import Taxonomy, default_taxonomy

CHANNELS = (("red", "#d62728"), ("green", "#2ca02c"), ("blue", "#1f5fbf"), ("gray", "#555555"))


class InsightsTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taxonomy: Taxonomy = default_taxonomy()  # the project's once set: class names as the window shows them
        configure_pyqtgraph()
        self.insights: Insights | None = None
        self.status = QLabel("Reading cell crops\u2026")
        self.status.setObjectName("insightsStatus")
        self.counts_plot = pg.PlotWidget(title="Examples per class")
        self.counts_plot.setObjectName("countsPlot")
        self.counts_plot.setMouseEnabled(x=False, y=False)
        self.bars: pg.BarGraphItem | None = None
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("insightsClassCombo")
        self.class_combo.currentIndexChanged.connect(self._show_histograms)
        self.histogram_plot = pg.PlotWidget(title="Intensity histogram")
        self.histogram_plot.setObjectName("histogramPlot")
        self.histogram_plot.setLabel("bottom", "intensity (0\u2013255)")
        self.histogram_plot.setLabel("left", "share of pixels")
        self.histogram_plot.addLegend(offset=(-10, 10))
        self.histogram_curves = {
            name: self.histogram_plot.plot([0, 1], [0], stepMode="center", pen=pg.mkPen(colour, width=2), name=name)
            for name, colour in CHANNELS
        }

        self.curve_plot = pg.PlotWidget(title="Learnt from this project: accuracy on the cells decided later")
        self.curve_plot.setObjectName("learningCurvePlot")
        self.curve_plot.setLabel("bottom", "cells decided (taught)")
        self.curve_plot.setLabel("left", "balanced accuracy")
        self.curve_plot.setYRange(0, 1, padding=0.02)
        self.curve_plot.setMouseEnabled(x=False, y=False)
        self.curve_plot.addLegend(offset=(-10, -10))
        self.curves = {
            "taught": self.curve_plot.plot([], [], pen=pg.mkPen("#1b7a3a", width=2), name="taught at once"),
            "network": self.curve_plot.plot([], [], pen=pg.mkPen("#888888", width=2, style=Qt.PenStyle.DashLine),
                                            name="network alone"),
        }
        self.curve: list[CurvePoint] | None = None  # None until read
        self.curve_note = QLabel("Reading what this project taught the classifier\u2026")
        self.curve_note.setObjectName("learningCurveNote")
        self.curve_note.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        # Side by side: three plots stacked leave each too flat at 768 px high.
        top = QHBoxLayout()
        top.addWidget(self.counts_plot, 1)
        top.addWidget(self.curve_plot, 1)
        layout.addLayout(top, 1)
        layout.addWidget(self.curve_note)
        layout.addLayout(chooser_row("Class to s&how:", self.class_combo))
        layout.addWidget(self.histogram_plot, 1)

    def show_insights(self, insights: Insights) -> None:
        self.insights = insights
        display = self.taxonomy.display_of

        total = sum(insights.class_counts.values())
        self.status.setText(f"{total} examples in {len(insights.class_counts)} classes.")
        names = list(insights.class_counts)
        counts = [insights.class_counts[n] for n in names]
        if self.bars is not None:
            self.counts_plot.removeItem(self.bars)
        self.bars = pg.BarGraphItem(x=list(range(len(names))), height=counts, width=0.7, brush="#4a7fc1")
        self.counts_plot.addItem(self.bars)
        self.counts_plot.getAxis("bottom").setTicks([[(i, display(n)) for i, n in enumerate(names)]])
        self.counts_plot.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.counts_plot.setYRange(0, max(counts or [1]) * 1.1, padding=0)
        whole_number_ticks(self.counts_plot.getAxis("left"), max(counts or [0]), up_to=10)
        chosen = self.class_combo.currentData()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for name in [n for n in names if n in insights.histograms] or list(insights.histograms):
            self.class_combo.addItem(display(name), name)
        if chosen is not None and self.class_combo.findData(chosen) >= 0:
            self.class_combo.setCurrentIndex(self.class_combo.findData(chosen))
        self.class_combo.blockSignals(False)
        self._show_histograms()

    def show_curve(self, curve: list[CurvePoint]) -> None:
        self.curve = curve
        self.curves["taught"].setData([p.taught for p in curve], [p.balanced_accuracy for p in curve])
        self.curves["network"].setData([p.taught for p in curve], [p.network_balanced_accuracy for p in curve])
        if not curve:
            self.curve_note.setText("The learning curve appears once at least 10 white cells are reviewed.")
            return
        last = curve[-1]
        self.curve_note.setText(
            f"After {last.taught} decisions: {last.balanced_accuracy:.1%} balanced accuracy on the {last.scored} cells "
            f"decided later, against {last.network_balanced_accuracy:.1%} for the network alone.")

    def _show_histograms(self) -> None:
        if self.insights is None:
            return
        histograms = self.insights.histograms.get(self.class_combo.currentData(), {})
        edges = list(self.insights.bin_edges)
        for name, curve in self.histogram_curves.items():
            values = histograms.get(name)
            if values and len(edges) == len(values) + 1:
                curve.setData(edges, list(values))
            else:
                curve.setData([0, 1], [0])

    def show_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#b00020'>Could not read the insights: {message}</span>")
