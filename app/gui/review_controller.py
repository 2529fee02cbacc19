"""The review views beside the canvas: the cell gallery (the central page
that View > Cell Gallery switches to) and the differential dock, made for
each project opened, following the slide on show, and the slide's sign-off.

Both views listen to the window's one store bridge (ProjectSession), so a
reclassification in the gallery reaches the canvas, the inspector, the slide
browser and the count through the same path as one made on the canvas.

The window's cell actions (class keys, Tab, A, Delete, the kind keys) come
here and act on the view on show: the canvas's selection or the gallery's."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.gui.canvas.canvas_controller import CanvasController
from app.gui.differential import DifferentialPanel
from app.gui.gallery import CellGallery
from app.gui.main_window import MainWindow
from app.gui.session import ProjectSession
from core.schema import Cell, CellKind
from core.store import StoreError

GALLERY_PLACEHOLDER = "Open a project to see its white cells grouped by class."
DIFFERENTIAL_PLACEHOLDER = "Open a project to count its slides."


class ReviewController(QObject):
    """`open_cell(cell_id)` is asked of the main controller on a gallery
    double-click; `slide_chosen(slide_id)` when the gallery's slide filter
    picks another slide; `message(str)` for the status bar."""

    slide_chosen = Signal(int)
    open_cell = Signal(int)
    message = Signal(str)
    view_changed = Signal(bool)  # True: the gallery is on show
    informative_wanted = Signal()  # the gallery asks for the order that teaches most

    def __init__(self, window: MainWindow, canvas: CanvasController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.canvas = canvas
        self.session: ProjectSession | None = None
        self.gallery: CellGallery | None = None
        self.panel: DifferentialPanel | None = None
        self.slide_id: int | None = None
        self.informative_order: list[int] = []  # the project's teacher's latest
        self._undo: Callable[[], None] = lambda: None  # the window's, given with each project
        self._redo: Callable[[], None] = lambda: None
        window.actions["gallery"].toggled.connect(self.show_gallery)

    # ------------------------------------------------------------ project
    def set_session(
        self, session: ProjectSession | None, *, undo: Callable[[], None], redo: Callable[[], None]
    ) -> None:
        self._drop_views()
        self.session = session
        self.slide_id = None
        if session is None:
            return
        w = self.window
        self._undo, self._redo = undo, redo
        # The gallery is made when it is first shown, and then reads the
        # white cells of the slides it shows: reading a 300-slide project's
        # 30,000 took 1.9 s of every opening, most often for a gallery never
        # looked at.
        w.set_page_widget(w.gallery_page, None, GALLERY_PLACEHOLDER)
        self._make_panel()
        if w.gallery_shown:
            self._make_gallery()  # the window was showing the gallery of the project before

    def _make_panel(self) -> None:
        assert self.session is not None
        # The panel's button and Edit > Sign Off take one path (sign_off below).
        self.panel = DifferentialPanel(self.session, open_dialog_itself=False)
        self.panel.sign_off_requested.connect(lambda _slide_id: self.sign_off())
        self.panel.setObjectName("differentialPanel")
        self.panel.sign_off_button.setToolTip(
            "Sign the slide off with this count, or unlock a signed slide (Ctrl+Shift+S)"
        )
        self.window.set_page_widget(self.window.differential_page, self.panel)

    def classes_changed(self) -> None:
        """The project gained a class (Blast, with a confirmed flag): the
        panel's table rows are the classes, so it is made again on the same slide."""
        if self.session is None or self.panel is None:
            return
        slide_id = self.panel.slide_id
        if self.panel.active_dialog is not None:
            self.panel.active_dialog.reject()
        self.panel.shutdown()
        self.panel.deleteLater()
        self._make_panel()
        assert self.panel is not None
        self.panel.set_slide(slide_id)

    def _make_gallery(self) -> None:
        if self.gallery is not None or self.session is None:
            return
        w = self.window
        # It follows the slide on show, and reads that slide's white cells only.
        self.gallery = CellGallery(
            self.session,
            on_open_cell=self.open_cell.emit,
            on_undo=self._undo,
            on_redo=self._redo,
            slide_id=self.slide_id,
        )
        self.gallery.setObjectName("cellGallery")
        self.gallery.slide_filter_changed.connect(self._gallery_slide_changed)
        self.gallery.current_cell_changed.connect(self._gallery_current_changed)
        self.gallery.thumbnails.ready.connect(self._tiles_arrived)
        self.gallery.message.connect(self.message)
        self.gallery.informative_wanted.connect(self.informative_wanted)
        self.gallery.model.set_informative_order(self.informative_order)
        self.gallery.message_label.hide()  # the window's status bar says it once
        w.set_page_widget(w.gallery_page, self.gallery)

    def set_informative_order(self, cell_ids: list[int]) -> None:
        self.informative_order = list(cell_ids)
        if self.gallery is not None:
            self.gallery.model.set_informative_order(self.informative_order)

    def _drop_views(self) -> None:
        w = self.window
        if self.gallery is not None:
            self.gallery.shutdown()
            self.gallery.deleteLater()
            self.gallery = None
        if self.panel is not None:
            if self.panel.active_dialog is not None:
                self.panel.active_dialog.reject()
            self.panel.shutdown()
            self.panel.deleteLater()
            self.panel = None
        w.set_page_widget(w.gallery_page, None, GALLERY_PLACEHOLDER)
        w.set_page_widget(w.differential_page, None, DIFFERENTIAL_PLACEHOLDER)

    # ------------------------------------------------------------ which view
    @property
    def gallery_active(self) -> bool:
        return self.gallery is not None and self.window.gallery_shown

    def show_gallery(self, on: bool) -> None:
        w = self.window
        if w.actions["gallery"].isChecked() != on:
            w.actions["gallery"].setChecked(on)  # comes back here through toggled
            return
        if on:
            self._make_gallery()
        w.show_gallery_page(on)
        if self.panel is not None:
            # The count is the slide on show's, or the project's while the
            # gallery shows every slide.
            every_slide = on and self.gallery is not None and self.gallery.slide_id is None
            self.panel.set_slide(None if every_slide else self.slide_id)
        if on and self.gallery is not None:
            self.gallery.view.setFocus()
        else:
            w.view.setFocus()
        self.view_changed.emit(on)

    # ------------------------------------------------------------ following the slide on show
    def follow_slide(self, slide_id: int | None) -> None:
        """The window shows another slide: the gallery and the count follow."""
        self.slide_id = slide_id
        if self.gallery is not None and self.gallery.slide_id != slide_id and slide_id is not None:
            self.gallery.set_slide(slide_id)
        if self.panel is not None:
            self.panel.set_slide(slide_id)

    def _gallery_slide_changed(self, slide_id: int | None) -> None:
        if slide_id is None:
            # "All slides" in the gallery: count the whole project too.
            if self.panel is not None and self.gallery_active:
                self.panel.set_slide(None)
            return
        if slide_id != self.slide_id:
            self.slide_chosen.emit(int(slide_id))
        elif self.panel is not None and self.panel.slide_id != slide_id:
            self.panel.set_slide(int(slide_id))

    def select_in_gallery(self, cells: list[Cell]) -> None:
        """Carry the canvas selection over when switching to the gallery."""
        ids = [cell.id for cell in cells if cell.kind is CellKind.WHITE]
        if self.gallery is not None and ids:
            self.gallery.select_cells(ids)

    # ------------------------------------------------------------ window actions on the view on show
    # Both views run the same core.review action; the view on show only
    # says which cells (its selection) and where the focus goes next.
    def set_class(self, name: str) -> None:
        if self.gallery_active:
            self.gallery.reclassify_selected(name)
        else:
            self.canvas.set_class(name)

    def accept_selected(self) -> None:
        if self.gallery_active:
            self.gallery.confirm_selected()
        else:
            self.canvas.accept_selected()

    def decide_blast(self, confirmed: bool) -> None:
        """Confirm or dismiss the lymphoid screen's flag on the selected cells."""
        if self.gallery_active:
            self.gallery.decide_blast_selected(confirmed)
        else:
            self.canvas.decide_blast(confirmed)

    def delete_selected(self) -> None:
        if self.gallery_active:
            self.gallery.delete_selected()
        else:
            self.canvas.delete_selected()

    def set_kind(self, kind: CellKind) -> None:
        if self.gallery_active:
            self.gallery.set_kind_selected(kind)
        else:
            self.canvas.set_kind(kind)

    def step_cell(self, backwards: bool) -> None:
        if self.gallery_active:
            self.gallery.view.step_cell(-1 if backwards else 1)
        else:
            self.canvas.step(backwards)

    def _gallery_current_changed(self, cell_id: int) -> None:
        if self.gallery_active:
            self.show_current_cell(cell_id)

    def _tiles_arrived(self, keys: list) -> None:
        """The current cell's tile arrived: the inspector can show its crop."""
        current = self.gallery.current_cell_id() if self.gallery_active else None
        if current is not None and self.canvas.item(current) is None and any(key[0] == current for key in keys):
            self.show_current_cell(current)

    def show_current_cell(self, cell_id: int) -> None:
        """The gallery's current cell is the canvas's selection when it is on
        the slide on show, so the inspector describes it either way."""
        if self.session is None:
            return
        if self.canvas.item(cell_id) is not None:
            self.canvas.select(cell_id, reveal=False)
            return
        try:
            cell = self.session.reader.cell(cell_id)
        except StoreError:
            return
        tile = self.gallery.thumbnails.pixmap(cell) if self.gallery is not None else None
        self.window.inspector.show_cells([cell], self.session.taxonomy, None, tile)

    # ------------------------------------------------------------ sign-off
    def sign_off(self) -> None:
        """Sign off (or unlock) the slide on show, through the panel's dialog:
        the dialog shows the count, and the store's refusal while Unidentified
        or unreviewed cells remain."""
        if self.panel is None or self.slide_id is None or self.session is None:
            return
        if self.session.read_only:
            self.message.emit("This project is read-only: slides cannot be signed off here.")
            return
        if self.panel.slide_id != self.slide_id:
            self.panel.set_slide(self.slide_id)
        try:
            dialog = self.panel.open_sign_off_dialog()
        except StoreError as error:
            self.message.emit(str(error))
            return
        if dialog is not None:
            dialog.finished.connect(lambda _result: self.window.focus_current_view())
