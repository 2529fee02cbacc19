"""Every command of the window as a QAction, with its shortcut in its
tooltip; Help > Keyboard shortcuts is generated from the same list, so the
two never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from core.schema import CellKind


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    text: str
    shortcut: str | QKeySequence.StandardKey | None
    tip: str
    group: str
    checkable: bool = False


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec("open_project", "&Open Project\u2026", QKeySequence.StandardKey.Open, "Open a project file", "File"),
    ActionSpec("open_lab_project", "Open La&b Project\u2026", "Ctrl+Shift+L",
               "Open a project kept on the lab's PostgreSQL server, shared with the other workstations", "File"),
    ActionSpec("open_folder", "Open &Folder of Images\u2026", "Ctrl+Shift+O",
               "Make or open the project for a folder of slide images", "File"),
    ActionSpec("import_data", "&Import\u2026", "Ctrl+I",
               "Add images or labelled data (VOC, COCO, YOLO, crops, CSV) to this project", "File"),
    ActionSpec("export_data", "&Export\u2026", "Ctrl+E",
               "Export the labelled cells as VOC, COCO, YOLO, class-folder crops or CSV", "File"),
    ActionSpec("report_slide", "&Report for This Slide\u2026", "Ctrl+Shift+P",
               "Write this slide's differential report as PDF or CSV", "File"),
    ActionSpec("report_project", "Report for &All Slides\u2026", None,
               "Write the differential report of every slide as PDF or CSV", "File"),
    ActionSpec("audit_trail", "A&udit Trail\u2026", None,
               "Who changed which cell from what to what and when, and who signed slides off: filter, export as CSV",
               "File"),
    ActionSpec("locate_image", "&Locate Slide Image\u2026", "Ctrl+L",
               "Point to where this slide's image is now (moved or renamed)", "File"),
    ActionSpec("image_folders", "Image Fol&ders\u2026", None,
               "Say where this project's image folders are on this computer (a share mounted elsewhere)", "File"),
    ActionSpec("quit", "&Quit", QKeySequence.StandardKey.Quit, "Close HemaLabel (every edit is already saved)", "File"),
    ActionSpec("undo", "&Undo", "Ctrl+Z", "Undo the last edit", "Edit"),
    ActionSpec("redo", "&Redo", "Ctrl+Shift+Z", "Redo the edit just undone", "Edit"),
    ActionSpec("draw", "&Draw Box", "B",
               "Draw a new box by dragging, or press Enter for one in the middle of the view to move with "
               "Shift+arrows and size with Alt+arrows (Shift+drag draws at any time; Esc leaves)", "Edit", True),
    ActionSpec("delete", "De&lete Box", QKeySequence.StandardKey.Delete, "Delete the selected boxes", "Edit"),
    ActionSpec("accept_selected", "&Accept Selected", "A", "Accept the selected proposals as they are", "Edit"),
    ActionSpec("accept_all", "Accept All &Proposals", "Ctrl+Return", "Accept every proposal on this slide", "Edit"),
    ActionSpec("confirm_blast", "Confirm as &Blast", "Alt+L",
               "The selected cells flagged by the lymphoid screen are blasts: each becomes Blast", "Edit"),
    ActionSpec("dismiss_blast", "Dismiss Blast Fla&g", "Alt+D",
               "Dismiss the lymphoid screen's flag on the selected cells: each keeps its class", "Edit"),
    ActionSpec("kind_white", "Mark as &White Cell", "Alt+W", "The selected boxes hold white cells", "Edit"),
    ActionSpec("kind_red", "Mark as &Red Cell", "Alt+R", "The selected boxes hold red cells", "Edit"),
    ActionSpec("kind_platelet", "Mark as &Platelet", "Alt+P", "The selected boxes hold platelets", "Edit"),
    ActionSpec("sign_off", "&Sign Off / Unlock Slide\u2026", "Ctrl+Shift+S",
               "Sign the slide off with its differential count (Unidentified must be empty), or unlock a signed slide",
               "Edit"),
    ActionSpec("sample_id", "Sample &Identifier\u2026", "F2",
               "Name the sample this slide is of (accession or sample number); "
               "its page of the report is headed with it",
               "Edit"),
    ActionSpec("next_cell", "Next Cell", "Tab", "Select the next cell (or → / ↓ on the slide)", "Navigate"),
    ActionSpec("previous_cell", "Previous Cell", "Shift+Tab",
               "Select the previous cell (or ← / ↑ on the slide)", "Navigate"),
    ActionSpec("next_slide", "Next Slide", "PgDown", "Go to the next slide in the list", "Navigate"),
    ActionSpec("previous_slide", "Previous Slide", "PgUp", "Go to the previous slide in the list", "Navigate"),
    ActionSpec("find_slide", "Find Slide\u2026", QKeySequence.StandardKey.Find,
               "Search the slide list by file name or text; its Show and Sort choose which slides and in what order",
               "Navigate"),
    ActionSpec("next_pane", "Next Pane", "F6",
               "Give the keys to the next pane: slides, canvas or gallery, cell, differential", "Navigate"),
    ActionSpec("previous_pane", "Previous Pane", "Shift+F6", "Give the keys to the previous pane", "Navigate"),
    ActionSpec("gallery", "Cell &Gallery", "Ctrl+G",
               "Switch between the slide canvas and the cell gallery (crops grouped by class)", "View", True),
    ActionSpec("fit", "&Fit to Window", "F", "Show the whole slide", "View"),
    ActionSpec("zoom_in", "Zoom &In", QKeySequence.StandardKey.ZoomIn,
               "Zoom in (or turn the wheel over the point of interest); in the gallery, larger tiles", "View"),
    ActionSpec("zoom_out", "Zoom &Out", QKeySequence.StandardKey.ZoomOut,
               "Zoom out; in the gallery, smaller tiles", "View"),
    ActionSpec("zoom_actual", "&Actual Pixels", "Ctrl+1", "One image pixel per screen pixel", "View"),
    ActionSpec("show_white", "Show &White Cells", "W", "Show or hide white-cell boxes", "View", True),
    ActionSpec("show_red", "Show &Red Cells", "R", "Show or hide red-cell boxes", "View", True),
    ActionSpec("show_platelet", "Show &Platelets", "P", "Show or hide platelet boxes", "View", True),
    ActionSpec("threshold", "Minimum &Confidence\u2026", "Ctrl+Shift+C",
               "Cells the classifier is less sure of than this go to Unidentified (0: each model's own threshold)",
               "View"),
    ActionSpec("detect_slide", "&Detect Cells on This Slide", "Ctrl+D",
               "Propose boxes on this slide with the detector", "Models"),
    ActionSpec("detect_all", "Detect Cells on &All Slides", "Ctrl+Shift+D", "Propose boxes on every slide", "Models"),
    ActionSpec("classify_slide", "&Classify This Slide", "Ctrl+K", "Classify this slide's white cells", "Models"),
    ActionSpec("classify_all", "Classify A&ll Slides", "Ctrl+Shift+K",
               "Classify the white cells of every slide", "Models"),
    ActionSpec("pipeline_all", "Detect and Classify All Slides", "Ctrl+Shift+R",
               "Detect, then classify, every slide", "Models"),
    ActionSpec("propose_on_import", "&Propose Cells on Import", None,
               "Detect and classify the cells of a folder's images as they are added (off: they open with no boxes)",
               "Models", True),
    ActionSpec("learn_at_once", "Learn &From Each Decision", None,
               "After each confirmation or correction, predict this project's unreviewed white cells again from "
               "what its reviewed cells teach, and withdraw or re-kind the proposals like the boxes deleted or "
               "re-kinded on reviewed slides, without waiting for a retrain", "Models", True),
    ActionSpec("cancel_job", "Cancel", "Ctrl+.", "Stop the running job (what is done so far is kept)", "Models"),
    ActionSpec("screen_settings", "Lymphoid &Screen\u2026", None,
               "Turn the lymphoid screen for suspected blasts on or off for this project, and set its operating point",
               "Models"),
    ActionSpec("retrain", "&Retrain\u2026", "Ctrl+Shift+T",
               "Fine-tune the classifier on this project's reviewed cells and compare it with the current one",
               "Models"),
    ActionSpec("model_versions", "&Models\u2026", "Ctrl+Shift+M",
               "List the classifier versions: promote, discard or roll back", "Models"),
    ActionSpec("shortcuts", "&Keyboard Shortcuts", QKeySequence.StandardKey.HelpContents,
               "List every shortcut", "Help"),
    ActionSpec("open_sample", "Open &Sample Project\u2026", None,
               "Open a project of six bundled blood-smear fields (BCCD, MIT) to try the whole review", "Help"),
    ActionSpec("about", "&About HemaLabel", None, "Version and licences", "Help"),
)

# Digit keys set classes; they are built from the project's taxonomy (see class_actions).
CLASS_KEYS_NOTE = "0\u20138  Set the class of the selected cells (see Edit \u203a Set Class)"


_KIND_ACTIONS = {CellKind.WHITE: "kind_white", CellKind.RED: "kind_red", CellKind.PLATELET: "kind_platelet"}


def kind_change_hint(kind: CellKind) -> str:
    """Where the explicit change to `kind` is, for a refusal to say:
    "Edit › Set Kind › Mark as White Cell (Alt+W)"."""
    spec = next(spec for spec in SPECS if spec.name == _KIND_ACTIONS[kind])
    return f"Edit › Set Kind › {spec.text.replace('&', '')} ({shortcut_text(spec.shortcut)})"


def shortcut_text(spec_shortcut: str | QKeySequence.StandardKey | None) -> str:
    if spec_shortcut is None:
        return ""
    if isinstance(spec_shortcut, QKeySequence.StandardKey):
        keys = QKeySequence.keyBindings(spec_shortcut)
        return keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""
    return QKeySequence(spec_shortcut).toString(QKeySequence.SequenceFormat.NativeText)


def build_actions(parent: QWidget) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    for spec in SPECS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.name)
        if spec.shortcut is not None:
            if isinstance(spec.shortcut, QKeySequence.StandardKey):
                action.setShortcuts(spec.shortcut)
            else:
                action.setShortcut(QKeySequence(spec.shortcut))
        keys = shortcut_text(spec.shortcut)
        action.setToolTip(f"{spec.tip} ({keys})" if keys else spec.tip)
        action.setStatusTip(spec.tip)
        action.setCheckable(spec.checkable)
        parent.addAction(action)  # shortcuts work even when no menu shows the action
        actions[spec.name] = action
    return actions
