"""The inspector: what is known about the selected cell (its crop, the
model's top three classes, who labelled it, with which model), and one
button per class with its hotkey."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.imagery import rgb_to_qimage
from app.gui.presentation import (
    BLAST_COLOUR,
    KIND_NAMES,
    SOURCE_TEXT,
    blast_screen_text,
    cell_title,
    confidence_text,
    needs_class,
    percent,
)
from core.crops import OUTSIDE_FOR_DISPLAY, crop_square
from core.image_levels import ImageLevels
from core.project_learning import describe_version
from core.schema import Cell
from core.taxonomy import Taxonomy

# Small enough that the crop, the top three classes beside it, the details
# and every class button fit a 1366x768 laptop screen without scrolling,
# with the differential below; the canvas shows the cell larger.
CROP_SIDE = 104
# The details; the two short ones share a row.
DETAIL_ROWS = (("Kind", "Source"), ("Reviewed",), ("Model",), ("Confidence",), ("Box",))


class InspectorView(QWidget):
    """Layout only; `show_cell` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        title = QLabel("Cell")
        title.setObjectName("panelTitle")
        self.crop = QLabel()
        self.crop.setObjectName("cropView")
        self.crop.setFixedSize(CROP_SIDE, CROP_SIDE)
        self.crop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.crop.setWordWrap(True)  # "Click a box, or press Tab" in a small square
        self.heading = QLabel("No cell selected")
        self.heading.setObjectName("cellHeading")
        self.heading.setWordWrap(True)
        self.bars: list[tuple[QLabel, QProgressBar]] = []
        probs = QFrame()
        probs_layout = QGridLayout(probs)
        probs_layout.setContentsMargins(0, 0, 0, 0)
        probs_layout.setVerticalSpacing(3)
        for row in range(3):
            name = QLabel("")
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFixedHeight(15)
            probs_layout.addWidget(name, row, 0)
            probs_layout.addWidget(bar, row, 1)
            self.bars.append((name, bar))
        probs_layout.setColumnStretch(1, 1)
        # The crop, and beside it what the cell is and the model's top three.
        summary = QVBoxLayout()
        summary.setSpacing(4)
        summary.addWidget(self.heading)
        summary.addWidget(probs)
        summary.addStretch(1)
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.crop, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(summary, 1)
        self.fields: dict[str, QLabel] = {}
        details = QGridLayout()
        details.setHorizontalSpacing(6)
        details.setVerticalSpacing(2)
        for row, keys in enumerate(DETAIL_ROWS):
            for pair, key in enumerate(keys):
                name = QLabel(key)
                name.setObjectName("detailName")
                name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                value = QLabel("\u2014")
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                value.setWordWrap(True)
                value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                details.addWidget(name, row, 2 * pair)
                details.addWidget(value, row, 2 * pair + 1, 1, 3 if len(keys) == 1 else 1)
                if key == "Confidence":
                    value.setToolTip("The classifier's probability for the cell's current class, "
                                     "else the detector's score for its box")
                if key == "Box":
                    value.setToolTip("The box's size and its top-left corner, in image pixels")
                self.fields[key] = value
        details.setColumnStretch(1, 1)
        details.setColumnStretch(3, 1)
        self.class_grid = QGridLayout()
        self.class_grid.setSpacing(3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(6)
        layout.addWidget(title)
        body = QVBoxLayout()
        body.setContentsMargins(10, 0, 10, 0)
        body.setSpacing(6)
        body.addLayout(top)
        body.addLayout(details)
        body.addLayout(self.class_grid)
        body.addStretch(1)
        layout.addLayout(body)
        self.class_buttons: dict[str, QPushButton] = {}

    def set_classes(self, taxonomy: Taxonomy, on_click: Callable[[str], None]) -> None:
        while self.class_grid.count():
            widget = self.class_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.class_buttons = {}
        for index, item in enumerate(taxonomy.classes):
            button = QPushButton(f"{item.key}  {item.display}" if item.key else item.display)
            button.setObjectName("classButton")
            button.setStyleSheet(f"QPushButton#classButton {{ border-left: 4px solid {item.colour}; }}")
            button.setToolTip(f"Set the selected cells to {item.display}" + (f" ({item.key})" if item.key else ""))
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setMinimumWidth(60)  # a narrow panel cuts a long name short rather than the column of buttons
            button.clicked.connect(lambda _=False, name=item.name: on_click(name))
            self.class_grid.addWidget(button, index // 2, index % 2)
            self.class_buttons[item.name] = button

    def set_editable(self, editable: bool) -> None:
        for button in self.class_buttons.values():
            button.setEnabled(editable)

    def show_cells(
        self, cells: list[Cell], taxonomy: Taxonomy | None, image: ImageLevels | None, crop: QPixmap | None = None
    ) -> None:
        """`image` is the slide on show; for a cell on another slide (the
        gallery's, across slides) `crop` is its ready-made tile, if any."""
        if len(cells) != 1 or taxonomy is None:
            self.crop.setPixmap(QPixmap())
            self.crop.setText("Click a box, or press Tab" if not cells else f"{len(cells)} cells")
            self.heading.setText("No cell selected" if not cells else f"{len(cells)} cells selected")
            for name, bar in self.bars:
                name.setText("")
                bar.setValue(0)
                bar.setFormat("")
                bar.setVisible(False)
            for value in self.fields.values():
                value.setText("\u2014")
            return
        cell = cells[0]
        if image is not None:
            pixels = crop_square(image.full, cell.box, outside=OUTSIDE_FOR_DISPLAY)
            pixmap = QPixmap.fromImage(rgb_to_qimage(pixels)).scaled(
                CROP_SIDE, CROP_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self.crop.setPixmap(pixmap)
        elif crop is not None and not crop.isNull():
            self.crop.setPixmap(
                crop.scaled(CROP_SIDE, CROP_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)
            )
        else:
            self.crop.setPixmap(QPixmap())
            self.crop.setText("image not available")
        colour = taxonomy.get(cell.label).colour if cell.label is not None and cell.label in taxonomy else "#7f8a93"
        # The screen's word under the class, in the heading: a detail row made the 1366x768 window scroll.
        screen = blast_screen_text(cell)
        screen_line = f'<br><span style="color:{BLAST_COLOUR}">{screen}</span>' if screen else ""
        self.heading.setText(f'<span style="color:{colour}">\u25cf</span> <b>{cell_title(cell, taxonomy)}</b>'
                             + screen_line)
        self.heading.setToolTip("Alt+L confirms the blast, Alt+D dismisses the flag" if screen else "")
        top = cell.top_classes(3)
        for row, (name, bar) in enumerate(self.bars):
            if row < len(top):
                label, probability = top[row]
                name.setText(taxonomy.display_of(label))
                bar.setValue(int(round(probability * 1000)))
                bar.setFormat(percent(probability, 1))
                bar.setVisible(True)
            else:
                name.setText("" if row else "No model prediction yet")
                bar.setVisible(False)
        self.fields["Kind"].setText(KIND_NAMES[cell.kind])
        self.fields["Source"].setText(SOURCE_TEXT[cell.source])
        reviewed = "Yes" if cell.reviewed else "No \u2014 model proposal"
        if needs_class(cell, taxonomy):
            reviewed += " \u2014 needs a class" if cell.reviewed else "; needs a class"
        self.fields["Reviewed"].setText(reviewed)
        self.fields["Model"].setText(describe_version(cell.model_version))
        self.fields["Confidence"].setText(confidence_text(cell, taxonomy))
        box = cell.box
        self.fields["Box"].setText(f"{box.width:.0f}\u00d7{box.height:.0f} at {box.x0:.0f}, {box.y0:.0f}")
