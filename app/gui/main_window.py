"""The main window's layout: docks, menus, toolbar, status bar.  No logic:
MainController (main_controller.py) wires these widgets to the project, and
ReviewController (review_controller.py) fills the gallery page and the
differential dock for each project it opens."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.gui.actions import build_actions
from app.gui.banner import Banner
from app.gui.canvas.slide_view import SlideView
from app.gui.inspector import InspectorView
from app.gui.slide_browser import SlideBrowser, SlideListModel
from app.version import window_title


class MainWindow(QMainWindow):
    closing = Signal()
    # The window's actions by name; this hides QWidget.actions(), which nothing here calls.
    actions: dict[str, QAction]  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(window_title())
        # The technician's own dock layout (restoreState); till then resizeEvent fits the docks.
        self._layout_restored = False
        # No larger than the screen (a 1366x768 laptop's, say) less the task bar.
        screen = QGuiApplication.primaryScreen()
        room = screen.availableGeometry().size() if screen is not None else QSize(1440, 900)
        self.resize(QSize(1440, 900).boundedTo(room))
        self.actions = build_actions(self)
        self.may_close: Callable[[], bool] | None = None  # asked before the window closes

        # Centre: the read-only banner over two pages, the slide canvas (with
        # its image banner) and the cell gallery; View > Cell Gallery switches.
        self.view = SlideView()
        self.read_only_banner = Banner()
        self.read_only_banner.setObjectName("readOnlyBanner")
        self.image_banner = Banner()
        self.folders_banner = Banner()  # a folder of images missing (a share not mounted), one at a time
        self.folders_banner.setObjectName("foldersBanner")
        self.claim_banner = Banner()  # the slide on show is in review at another station (a server project)
        self.claim_banner.setObjectName("claimBanner")
        # Says when the detector found the slide unlike its training fields.
        self.proposals_banner = Banner()
        self.proposals_banner.label.setAccessibleName("Proposals warning")
        # Reachable with Tab and read by a screen reader, not only seen.
        self.proposals_banner.label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByKeyboard | Qt.TextInteractionFlag.TextSelectableByMouse
        )
        canvas_page = _column(self.image_banner, self.proposals_banner, self.view)
        self.gallery_page = _holder("Open a project to see its white cells grouped by class.")
        self.gallery_page.setObjectName("galleryPage")
        self.central_stack = QStackedWidget()
        self.central_stack.addWidget(canvas_page)
        self.central_stack.addWidget(self.gallery_page)
        self.setCentralWidget(_column(self.read_only_banner, self.claim_banner, self.folders_banner,
                                      self.central_stack))

        # Left: slides.  Right: the selected cell.
        self.slide_model = SlideListModel(self)
        self.browser = SlideBrowser(self.slide_model)
        self.browser_dock = self._dock("slidesDock", "Slides", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.actions["find_slide"].triggered.connect(self.find_slide)
        self.inspector = InspectorView()
        inspector_scroll = _scrolling(self.inspector, fit_height=True)
        self.inspector_dock = self._dock("cellDock", "Cell", inspector_scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        # Right, below the cell: the differential count of the slide on show.
        # Both scroll rather than make the window taller than a laptop screen.
        self.differential_page = _holder("Open a project to count its slides.")
        self.differential_dock = self._dock(
            "differentialDock",
            "Differential",
            _scrolling(self.differential_page),
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        self.splitDockWidget(self.inspector_dock, self.differential_dock, Qt.Orientation.Vertical)
        # The cell takes the height its contents need, the differential the
        # rest: a taller window gives the differential room, not the cell
        # blank space, and on a 1366x768 laptop screen both fit unscrolled.
        self.browser_dock.setMinimumWidth(220)
        self.inspector_dock.setMinimumWidth(340)
        inspector_scroll.needs_height.connect(self._give_inspector_height, Qt.ConnectionType.QueuedConnection)

        self._build_toolbar()
        self._build_status_bar()
        self._build_menus()

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        no_title = QWidget()  # the panel draws its own title
        # An empty layout makes its size hint 0 high, not -1, which would take a pixel off the dock's contents.
        QVBoxLayout(no_title).setContentsMargins(0, 0, 0, 0)
        dock.setTitleBarWidget(no_title)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _give_inspector_height(self, height: int) -> None:
        """The cell's contents changed height (the classes came with a
        project, a longer model name wraps): the cell dock takes what it
        needs, the differential below it the rest."""
        total = self.inspector_dock.height() + self.differential_dock.height()
        if total > height and self.differential_dock.isVisible():
            self.resizeDocks([self.inspector_dock, self.differential_dock], [height, total - height],
                             Qt.Orientation.Vertical)
        else:
            self.resizeDocks([self.inspector_dock], [height], Qt.Orientation.Vertical)

    def _build_toolbar(self) -> None:
        # Two bars on one line, the second moving under the first where the
        # window is too narrow for both (resizeEvent): no action is ever
        # hidden behind the bar's overflow button.
        a = self.actions
        review = _tool_bar("Review", "reviewToolbar")
        self.addToolBar(review)
        bar = _tool_bar("View", "viewToolbar")
        self.addToolBar(bar)
        a["open_folder"].setIconText("Open\u2026")
        a["detect_slide"].setIconText("Detect")
        a["classify_slide"].setIconText("Classify")
        a["pipeline_all"].setIconText("Detect + Classify All")
        a["accept_all"].setIconText("Accept All")
        a["draw"].setIconText("Draw")
        a["show_white"].setIconText("WBC")
        a["show_red"].setIconText("RBC")
        a["show_platelet"].setIconText("PLT")
        a["gallery"].setIconText("Gallery")
        a["sign_off"].setIconText("Sign Off")
        a["fit"].setIconText("Fit")
        a["undo"].setIconText("Undo")
        a["redo"].setIconText("Redo")
        for name in ("open_folder", None, "undo", "redo", None, "detect_slide", "classify_slide", "pipeline_all",
                     None, "draw", "accept_all"):
            if name is None:
                review.addSeparator()
            else:
                review.addAction(a[name])
        for name in ("show_white", "show_red", "show_platelet", None, "fit", None, "gallery", "sign_off"):
            if name is None:
                bar.addSeparator()
            else:
                bar.addAction(a[name])
        bar.addWidget(QLabel("Min. confidence"))
        self.threshold = QDoubleSpinBox()
        self.threshold.setObjectName("thresholdBox")
        # In percent, as the cell tags and the inspector show confidence.
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setSingleStep(5.0)
        self.threshold.setDecimals(0)
        self.threshold.setSuffix(" %")
        # At 0 no floor of the technician's own applies: each model's card
        # threshold decides.  "model" alone read as a setting named "model".
        self.threshold.setSpecialValueText("model's own")
        self.threshold.setToolTip(
            "Cells the classifier is less sure of than this go to Unidentified and are marked '?'.\n"
            "\"model's own\" (0 %): no floor of yours; each model's own calibrated threshold decides."
        )
        bar.addWidget(self.threshold)
        self.toolbar = review
        self.view_toolbar = bar

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_to_width(event.size().width())

    def _fit_to_width(self, width: int) -> None:
        if not hasattr(self, "view_toolbar"):
            return  # still being built
        # The tool bars on one line where both fit, else on two.
        wrap = self.toolbar.sizeHint().width() + self.view_toolbar.sizeHint().width() > width
        if wrap != self.toolBarBreak(self.view_toolbar):
            if wrap:
                self.insertToolBarBreak(self.view_toolbar)
            else:
                self.removeToolBarBreak(self.view_toolbar)
        # The side panels narrower on a narrow window, so the slide keeps room;
        # once the technician's own layout is restored, it is theirs.
        if not self._layout_restored:
            self.resizeDocks(
                [self.browser_dock, self.inspector_dock],
                [min(280, max(220, round(width * 0.2))), min(400, max(360, round(width * 0.3)))],
                Qt.Orientation.Horizontal,
            )

    def restoreState(self, state, version: int | None = 0) -> bool:  # noqa: ANN001 - QByteArray, as QMainWindow's
        restored = super().restoreState(state, version or 0)
        self._layout_restored = self._layout_restored or restored
        self._fit_to_width(self.width())
        return restored

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setFixedWidth(220)
        self.job_progress.setFixedHeight(16)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job; what is done so far is kept (Ctrl+.)")
        self.zoom_label = QLabel("")
        self.position_label = QLabel("")
        for widget in (self.job_label, self.job_progress, self.cancel_button):
            widget.setVisible(False)
            status.addPermanentWidget(widget)
        status.addPermanentWidget(self.position_label)
        status.addPermanentWidget(self.zoom_label)

    def _build_menus(self) -> None:
        a = self.actions
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([a["open_project"], a["open_lab_project"], a["open_folder"]])
        self.recent_menu = QMenu("Open Recen&t", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([a["import_data"], a["export_data"]])
        file_menu.addSeparator()
        file_menu.addActions([a["report_slide"], a["report_project"], a["audit_trail"]])
        file_menu.addSeparator()
        file_menu.addActions([a["locate_image"], a["image_folders"]])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        edit = bar.addMenu("&Edit")
        edit.addActions([a["undo"], a["redo"]])
        edit.addSeparator()
        edit.addActions([a["draw"], a["delete"], a["accept_selected"], a["accept_all"]])
        edit.addActions([a["confirm_blast"], a["dismiss_blast"]])
        self.class_menu = QMenu("Set &Class", self)
        edit.addMenu(self.class_menu)
        kind_menu = edit.addMenu("Set &Kind")
        kind_menu.addActions([a["kind_white"], a["kind_red"], a["kind_platelet"]])
        edit.addSeparator()
        edit.addActions([a["sign_off"], a["sample_id"]])
        view = bar.addMenu("&View")
        view.addAction(a["gallery"])
        view.addSeparator()
        view.addActions([a["fit"], a["zoom_in"], a["zoom_out"], a["zoom_actual"]])
        view.addSeparator()
        view.addActions([a["show_white"], a["show_red"], a["show_platelet"]])
        view.addAction(a["threshold"])
        view.addSeparator()
        view.addAction(self.browser_dock.toggleViewAction())
        view.addAction(self.inspector_dock.toggleViewAction())
        view.addAction(self.differential_dock.toggleViewAction())
        navigate = bar.addMenu("&Navigate")
        navigate.addActions([a["next_cell"], a["previous_cell"], a["next_slide"], a["previous_slide"], a["find_slide"]])
        navigate.addSeparator()
        navigate.addActions([a["next_pane"], a["previous_pane"]])
        models = bar.addMenu("&Models")
        models.addActions([a["detect_slide"], a["detect_all"], a["classify_slide"], a["classify_all"]])
        models.addSeparator()
        models.addActions([a["pipeline_all"], a["propose_on_import"], a["screen_settings"], a["cancel_job"]])
        models.addSeparator()
        models.addActions([a["retrain"], a["model_versions"]])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([a["shortcuts"], a["open_sample"], a["about"]])

    def set_page_widget(self, page: QWidget, widget: QWidget | None, placeholder: str = "") -> None:
        """Put a project's widget (the gallery, the differential panel) on its
        page, or the placeholder text when no project is open."""
        layout = page.layout()
        while layout.count():
            old = layout.takeAt(0).widget()
            if old is not None:
                # Hidden explicitly first: the layout may have queued a show for
                # it, which would otherwise open it as a window of its own.
                old.hide()
                old.setParent(None)
                if old.objectName() == "placeholder":
                    old.deleteLater()
        layout.addWidget(widget if widget is not None else _placeholder(placeholder))

    @property
    def gallery_shown(self) -> bool:
        return self.central_stack.currentWidget() is self.gallery_page

    def show_gallery_page(self, on: bool) -> None:
        self.central_stack.setCurrentWidget(self.gallery_page if on else self.central_stack.widget(0))

    def find_slide(self) -> None:
        """Ctrl+F: the slide list's search field, showing the list if hidden."""
        self.browser_dock.show()
        self.browser.focus_search()

    def focus_current_view(self) -> None:
        """Give the keyboard back to the view on show (a project opened, a
        dialog closed), so the next key is a review key."""
        self.activateWindow()
        self.current_view().setFocus()

    def current_view(self) -> QWidget:
        """The review view on show: the project's gallery, or the canvas."""
        item = self.gallery_page.layout().itemAt(0) if self.gallery_shown else None
        return item.widget() if item is not None else self.view

    def panes(self) -> list[QWidget]:
        """Where F6 and Shift+F6 take the keys, left to right and top to
        bottom: the slide list, the view on show, the cell, the differential
        count.  Tab cannot: in the canvas and the gallery it steps cells."""
        candidates = (self.browser, self.current_view(), self.inspector_dock.widget(), self.differential_dock.widget())
        return [pane for pane in candidates if pane is not None and pane.isVisible()]

    def focus_pane(self, step: int) -> None:
        """Give the keys to the next (step 1) or previous (-1) pane that has
        something to take them."""
        panes = self.panes()
        focus = QApplication.focusWidget()
        here = next(
            (i for i, pane in enumerate(panes) if focus is not None and (focus is pane or pane.isAncestorOf(focus))), -1
        )
        if here < 0 and step < 0:
            here = 0  # the keys nowhere in the panes: F6 starts at the first, Shift+F6 at the last
        for offset in range(1, len(panes) + 1):
            target = _first_focusable(panes[(here + step * offset) % len(panes)])
            if target is not None:
                target.setFocus(Qt.FocusReason.TabFocusReason)
                return

    def canvas_context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addMenu(self.class_menu)
        for name in ("accept_selected", "confirm_blast", "dismiss_blast", "delete", "kind_white", "kind_red",
                     "kind_platelet"):
            menu.addAction(self.actions[name])
        return menu

    def add_class_action(self, action: QAction) -> None:
        self.class_menu.addAction(action)
        self.addAction(action)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Every edit is already in the project file: closing asks only while
        # a batch job runs (may_close, set by the controller), and only when
        # the technician closed it (the title bar's button); Quit asks
        # before it closes, and a script's close() never waits on a question.
        if event.spontaneous() and self.may_close is not None and not self.may_close():
            event.ignore()
            return
        self.closing.emit()
        event.accept()


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("placeholder")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #7a8591; padding: 24px;")
    return label


def _holder(text: str) -> QWidget:
    """A page that holds one widget made per project, or a placeholder."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(_placeholder(text))
    return page


class _ScrollArea(QScrollArea):
    """A dock's scroll area.  With `fit_height` it is never taller than its
    widget needs at its width (updated as the widget's layout changes), so
    the dock below it takes the rest of the height rather than it showing
    blank space; where the window is shorter than that, it scrolls.
    `needs_height` tells the window when the widget's height changes, to
    give the dock that much."""

    needs_height = Signal(int)

    def __init__(self, widget: QWidget, fit_height: bool = False) -> None:
        super().__init__()
        self.setWidget(widget)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_height = fit_height
        if fit_height:
            widget.installEventFilter(self)

    def needed_height(self) -> int:
        """The height at which the widget shows whole, at the present width."""
        widget = self.widget()
        width = self.width() - self.contentsMargins().left() - self.contentsMargins().right()
        height = widget.heightForWidth(width) if widget.hasHeightForWidth() else -1
        if height < 0:
            height = widget.sizeHint().height()
        margins = self.contentsMargins()
        return max(height, widget.minimumSizeHint().height()) + margins.top() + margins.bottom()

    def sizeHint(self) -> QSize:
        # QScrollArea's own remembers the widget's first size and caps it at 24 lines.
        return QSize(super().sizeHint().width(), self.needed_height())

    def _fit(self) -> None:
        if self._fit_height:
            height = self.needed_height()
            if height != self.maximumHeight():
                self.setMaximumHeight(height)
                self.needs_height.emit(height)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()


def _tool_bar(title: str, name: str) -> QToolBar:
    bar = QToolBar(title)
    bar.setObjectName(name)
    bar.setMovable(False)
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return bar


def _scrolling(widget: QWidget, fit_height: bool = False) -> _ScrollArea:
    return _ScrollArea(widget, fit_height)


def _column(*widgets: QWidget) -> QWidget:
    """Banners over a body (the last) that takes the rest of the height."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    for banner in widgets[:-1]:
        column.addWidget(banner)
    column.addWidget(widgets[-1], 1)
    return page


def _first_focusable(pane: QWidget) -> QWidget | None:
    """The pane's first control in Tab order that can take the keys now (the
    differential's Target, not the scroll area around it), else the pane
    itself if it can (the slide list, the canvas), else None.  Controls that
    Tab skips on purpose (click focus: keys belong to the review views)
    count: F6 asked for this pane."""
    def takes_keys(widget: QWidget) -> bool:
        return widget.focusPolicy() != Qt.FocusPolicy.NoFocus and widget.isVisible() and widget.isEnabled()

    widget = pane.nextInFocusChain()
    for _ in range(10_000):  # the chain is a ring through the whole window; a bound all the same
        if widget is None or widget is pane:
            break
        if pane.isAncestorOf(widget) and takes_keys(widget) and not isinstance(widget, (QScrollBar, QLabel)):
            return widget
        widget = widget.nextInFocusChain()
    return pane if takes_keys(pane) else None
