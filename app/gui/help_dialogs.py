"""Help > Keyboard shortcuts and Help > About."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

from app.gui.actions import SPECS, shortcut_text
from app.version import APP_NAME, app_version
from core.taxonomy import Taxonomy

_CANVAS = (
    ("Wheel", "Zoom in or out at the cursor"),
    ("Drag on empty space, middle drag or Space+drag", "Pan"),
    ("Click a box / Ctrl+click", "Select / add to the selection"),
    ("Drag a selected box or its handles", "Move or resize (one undo step per drag)"),
    ("Shift+drag, or B then drag", "Draw a new box"),
    ("Esc", "Leave drawing, or clear the selection"),
    ("← ↑ / → ↓ on the slide", "Previous / next cell"),
    ("Shift+arrows", "Move the selected box, one screen pixel a press (presses in a row are one undo step)"),
    ("Alt+arrows", "Resize the selected box: move its right or bottom edge"),
)

_GALLERY = (
    ("Ctrl+G", "Switch between the slide canvas and the cell gallery"),
    ("0\u20138", "Reclassify the selected cells (the next unreviewed cell becomes current)"),
    ("Enter / Space", "Confirm the selected cells as classified"),
    ("Tab / arrows, Home / End", "Move between cells"),
    ("PgDown / PgUp", "Next / previous slide; with All slides shown, a page of cells down / up"),
    ("Click a group header", "Select the whole group (Ctrl+click adds it)"),
    ("Drag cells onto a group", "Reclassify them"),
    ("Double-click a cell", "Show it on its slide in the canvas"),
    ("Ctrl+= / Ctrl+\u2212, Ctrl+wheel", "Larger / smaller tiles (kept for next time)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo, the same history as the canvas"),
    ("Alt+S / Alt+C, then arrows", "Show another slide / class (the keys come back to the cells)"),
    ("Alt+U", "Show only the unreviewed cells, or every cell again"),
    ("Alt+B, a value, Enter", "Show only the cells the model was less sure of than the value"),
    ("Ctrl+Tab", "Leave the gallery for the rest of the window"),
)


def shortcuts_html(taxonomy: Taxonomy | None) -> str:
    rows: list[str] = []
    group = None
    for spec in SPECS:
        keys = shortcut_text(spec.shortcut)
        if not keys:
            continue
        if spec.group != group:
            group = spec.group
            rows.append(f'<tr><td colspan="2" class="group">{group}</td></tr>')
        rows.append(f"<tr><td class='key'>{keys}</td><td>{spec.text.replace('&', '').rstrip('…')}</td></tr>")
    if taxonomy is not None:
        rows.append('<tr><td colspan="2" class="group">Classes</td></tr>')
        for item in taxonomy.classes:
            if item.key:
                rows.append(
                    f"<tr><td class='key'>{item.key}</td><td><span style='color:{item.colour}'>\u25a0</span> "
                    f"{item.display}</td></tr>"
                )
    rows.append('<tr><td colspan="2" class="group">Cell gallery</td></tr>')
    rows += [f"<tr><td class='key'>{keys}</td><td>{what}</td></tr>" for keys, what in _GALLERY]
    rows.append('<tr><td colspan="2" class="group">Slide canvas: mouse and keys</td></tr>')
    rows += [f"<tr><td class='key'>{keys}</td><td>{what}</td></tr>" for keys, what in _CANVAS]
    return (
        "<style>td{padding:3px 12px 3px 0;vertical-align:top;} td.key{font-weight:600;}"
        " td.group{padding-top:10px;font-weight:700;color:#2f7fd8;}</style>"
        "<table width='100%'><col width='42%'><col width='58%'>" + "".join(rows) + "</table>"
    )


class ShortcutsDialog(QDialog):
    def __init__(self, taxonomy: Taxonomy | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(480, 620)
        text = QTextBrowser()
        text.setHtml(shortcuts_html(taxonomy))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, f"About {APP_NAME}", about_html())


# What the bundled models learnt from, with the licences their use asks us
# to state (PBC's CC BY 4.0 asks for attribution).
_TRAINING_DATA = (
    "PBC (Acevedo et al., Data in Brief 30, 2020; CC BY 4.0) with its OI-PBC cell boxes "
    "(Abou Ali et al., 2025), BCCD (Shenggan; MIT) and TXL-PBC (Gan and Li, 2024; MIT)"
)
# The optional lymphoid screen is not bundled in the default classifier: its
# data's licence is not confirmed, and its authors ask to be cited.
_SCREEN_DATA = (
    "the optional lymphoid screen (models/lymphoid-screen) was trained on the ALL image dataset of Taleqani "
    "Hospital, Tehran; cite Ghaderzadeh M. et al., \"A fast and efficient CNN model for B-ALL diagnosis and its "
    "subtypes classification using peripheral blood smear images\", International Journal of Intelligent Systems "
    "(2022). Its licence is not confirmed, so it is not part of the default classifier"
)
_LIBRARIES = (
    "Qt for Python (PySide6; LGPLv3), TensorFlow and Keras (Apache 2.0), NumPy (BSD), "
    "OpenCV (Apache 2.0), Pillow (MIT-CMU), pyqtgraph (MIT) and fpdf2 (LGPLv3)"
)


def about_html() -> str:
    """The About box: version, the models in use (read from their cards, so
    a retrained classifier shows as such), their training data and the
    libraries, with licences."""
    return (
        f"<b>{APP_NAME} {app_version()}</b><p>Review, label and count blood-smear cells. "
        "Every edit is saved as you make it.</p>"
        f"<p><b>Models in use:</b> {models_in_use()}.</p>"
        f"<p><b>The bundled models were trained on</b> {_TRAINING_DATA}; {_SCREEN_DATA}.</p>"
        f"<p><b>Built with</b> {_LIBRARIES}.</p>"
    )


def models_in_use() -> str:
    """"classifier hemalabel-wbc 1.2.0 (bundled), detector cell-detector 2.2",
    from the cards alone: no network is loaded to say it."""
    from core.box_refiner import BoxRefinerCard, bundled_refiner_card
    from core.models.classifier_card import card_path_for, read_card
    from core.models.detector_card import DetectorCard
    from core.models.resolver import resolve_detector_card, resolve_model
    from core.resources import bundled_models_dir

    parts = []
    try:
        weights = resolve_model(None)
        card = read_card(card_path_for(weights))
        where = "bundled" if weights.parent == bundled_models_dir() else "retrained here"
        parts.append(f"classifier {card.name} {card.version} ({where})")
    except Exception as error:  # noqa: BLE001 - the About box must open whatever is wrong
        parts.append(f"classifier unreadable ({error})")
    try:
        detector = DetectorCard.load(resolve_detector_card(None))
        parts.append(f"detector {detector.name} {detector.version}")
    except Exception as error:  # noqa: BLE001
        parts.append(f"detector unreadable ({error})")
    try:
        refiner = BoxRefinerCard.load(bundled_refiner_card())
        parts.append(f"single-cell box refiner {refiner.name} {refiner.version}")
    except Exception as error:  # noqa: BLE001
        parts.append(f"single-cell box refiner unreadable ({error})")
    return ", ".join(parts)
