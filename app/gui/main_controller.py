"""Wires the main window to an open project: opening and closing, moving
between slides, routing actions to the canvas, the gallery (review_controller)
and the model and data controllers, showing progress, banners and messages,
remembering settings.

Class keys, Tab, A, Delete and the kind keys act on the view on show: the
canvas's selection, or the gallery's.  Undo and Redo are the window's, for
both views: one history, one step per gesture."""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from app.gui.canvas.canvas_controller import CanvasController
from app.gui.data_controller import DataController
from app.gui.dialogs.lab_project_dialog import ask_lab_project
from app.gui.edited_elsewhere import EditedElsewhere
from app.gui.folder_project import ask_project_file
from app.gui.help_dialogs import ShortcutsDialog, show_about
from app.gui.image_folders import ImageFolders
from app.gui.imagery import ImageShown
from app.gui.main_window import MainWindow
from app.gui.model_controller import ModelController, ThresholdedClassifier
from app.gui.presentation import hidden_kinds_note
from app.gui.proposal_lesson_controller import ProposalLessonController
from app.gui.quit_guard import ask_quit, running_jobs
from app.gui.retrain.controller import RetrainController
from app.gui.review_controller import ReviewController
from app.gui.sample_id import SampleIdController
from app.gui.session import ProjectSession
from app.gui.settings import AppSettings
from app.gui.slide_claims import SlideClaims
from app.gui.teaching_controller import TeachingController
from app.gui.user_identity import window_identity
from app.gui.worker import JobHandle, cancel_all_and_wait, start_job
from app.version import window_title
from core.detection.familiarity import UNRELIABLE, slide_colour_turn, slide_is_unlike
from core.imaging import ImageReadError, is_image_file, probe_image
from core.importing import import_source
from core.inference import CellClassifier
from core.jobs import Progress
from core.schema import CellKind, Slide, SlideStatus
from core.store import (
    PROJECT_SUFFIX,
    HistoryStep,
    ProjectInUseError,
    ProjectStore,
    ServerAddress,
    StoreError,
    StoreEvent,
    StoreEventKind,
    describe_location,
    is_server_address,
    resolve_project_path,
)
from core.wording import counted

EDITOR = "a HemaLabel window"  # how another window or command is told who edits the project
_KINDS = {"show_white": CellKind.WHITE, "show_red": CellKind.RED, "show_platelet": CellKind.PLATELET}


class MainController(QObject):
    def __init__(self, window: MainWindow, settings: AppSettings | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings or AppSettings()
        self.session: ProjectSession | None = None
        self.slide: Slide | None = None
        self.canvas = CanvasController(window.view, self)
        self.models = ModelController(self)
        self.teaching = TeachingController(self, thresholds=self._with_threshold)
        self.box_lesson = ProposalLessonController(self)
        self.review = ReviewController(window, self.canvas, self)
        self.data = DataController(window, lambda: self.slide.id if self.slide is not None else None, self)
        self.retraining = RetrainController(window, self)
        self.sample_ids = SampleIdController(self)
        self._import_job: JobHandle | None = None
        self._slides_before_import: set[int] = set()
        self._class_actions: list[QAction] = []
        self._classes_built: list[str] = []  # the taxonomy the class actions were built from
        self._not_saved: str | None = None  # the latest edit the file refused, until one is saved again
        self._message: tuple[str, int | None] = ("", None)  # the status bar's message, and the slide it is about
        self.elsewhere = EditedElsewhere(window, window.read_only_banner, self.open_project, self.close_project)
        self.image_folders = ImageFolders(window, self.settings, window.folders_banner, self.show_project_message,
                                          self._alert, self._images_remapped)
        self.claims = SlideClaims(window, window.claim_banner, self.show_message, self._held_elsewhere,
                                  window.slide_model.set_claims)
        self._connect()
        self._restore_settings()
        self._update_actions()

    # ------------------------------------------------------------ wiring
    def _connect(self) -> None:
        w, a = self.window, self.window.actions
        a["open_project"].triggered.connect(self.ask_open_project)
        a["open_lab_project"].triggered.connect(self.ask_open_lab_project)
        a["open_folder"].triggered.connect(self.ask_open_folder)
        a["quit"].triggered.connect(self.request_quit)
        w.may_close = self.may_close  # the window manager's close button asks the same
        a["undo"].triggered.connect(self.undo)
        a["redo"].triggered.connect(self.redo)
        a["draw"].toggled.connect(w.view.set_draw_mode)
        w.view.draw_mode_changed.connect(a["draw"].setChecked)
        a["delete"].triggered.connect(self.review.delete_selected)
        a["accept_selected"].triggered.connect(self.review.accept_selected)
        a["confirm_blast"].triggered.connect(lambda: self.review.decide_blast(True))
        a["dismiss_blast"].triggered.connect(lambda: self.review.decide_blast(False))
        a["accept_all"].triggered.connect(self.canvas.accept_all)
        a["kind_white"].triggered.connect(lambda: self.review.set_kind(CellKind.WHITE))
        a["kind_red"].triggered.connect(lambda: self.review.set_kind(CellKind.RED))
        a["kind_platelet"].triggered.connect(lambda: self.review.set_kind(CellKind.PLATELET))
        a["next_cell"].triggered.connect(lambda: self.review.step_cell(False))
        a["previous_cell"].triggered.connect(lambda: self.review.step_cell(True))
        a["sign_off"].triggered.connect(self.review.sign_off)
        w.view.cell_step.connect(self.canvas.step)
        a["next_slide"].triggered.connect(lambda: self.step_slide(1))
        a["next_pane"].triggered.connect(lambda: w.focus_pane(1))
        a["previous_pane"].triggered.connect(lambda: w.focus_pane(-1))
        a["previous_slide"].triggered.connect(lambda: self.step_slide(-1))
        a["fit"].triggered.connect(w.view.fit)
        a["zoom_in"].triggered.connect(lambda: self._zoom(1))
        a["zoom_out"].triggered.connect(lambda: self._zoom(-1))
        a["zoom_actual"].triggered.connect(w.view.zoom_actual)
        for name, kind in _KINDS.items():
            a[name].toggled.connect(lambda on, kind=kind: self._set_kind_visible(kind, on))
        a["detect_slide"].triggered.connect(lambda: self.models.detect(self._current_ids()))
        a["detect_all"].triggered.connect(lambda: self.models.detect(self._all_ids()))
        a["classify_slide"].triggered.connect(lambda: self.models.classify(self._current_ids()))
        a["classify_all"].triggered.connect(lambda: self.models.classify(self._all_ids()))
        a["pipeline_all"].triggered.connect(lambda: self.models.detect_and_classify(self._all_ids()))
        a["cancel_job"].triggered.connect(self.cancel_jobs)
        a["propose_on_import"].toggled.connect(self.settings.set_propose_on_import)
        a["learn_at_once"].toggled.connect(self._set_learning)
        self.teaching.message.connect(self.show_project_message)
        self.box_lesson.message.connect(self.show_project_message)
        self.teaching.taught.connect(lambda teaching: self.review.set_informative_order(teaching.informative))
        self.review.informative_wanted.connect(self._informative_wanted)
        a["shortcuts"].triggered.connect(self.show_shortcuts)
        a["about"].triggered.connect(lambda: show_about(w))
        w.cancel_button.clicked.connect(self.cancel_jobs)
        w.browser.slide_activated.connect(self.show_slide_id)
        w.browser.review_requested.connect(w.focus_current_view)
        w.image_banner.button.clicked.connect(self.ask_locate)
        a["locate_image"].triggered.connect(self.ask_locate)
        a["image_folders"].triggered.connect(self.image_folders.review)
        w.threshold.valueChanged.connect(lambda percent: self._threshold_changed(percent / 100.0))
        a["threshold"].triggered.connect(self.ask_threshold)
        a["screen_settings"].triggered.connect(self.open_screen_settings)
        w.view.zoom_changed.connect(lambda scale: w.zoom_label.setText(f"{scale * 100:.0f}%"))
        w.view.cursor_moved.connect(self._cursor_moved)
        w.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        w.view.customContextMenuRequested.connect(self._context_menu)
        w.closing.connect(self.shutdown)
        self.canvas.selection_changed.connect(self._selection_changed)
        self.canvas.image_state_changed.connect(self._image_state_changed)
        self.canvas.message.connect(self.show_message)
        self.models.started.connect(lambda title: self._job_started(title, self.models.cancel))
        self.models.progress.connect(self._job_progress)
        self.models.finished.connect(self._job_finished)
        self.models.failed.connect(self.show_project_message)
        self.models.running_changed.connect(lambda _running: self._update_actions())
        self.models.running_changed.connect(lambda _running: self._show_empty_hint())
        self.review.slide_chosen.connect(self.show_slide_id)
        self.review.open_cell.connect(self.show_cell_on_canvas)
        self.review.message.connect(self.show_message)
        self.review.view_changed.connect(self._view_changed)
        self.data.message.connect(self.show_project_message)
        self.retraining.message.connect(self.show_project_message)
        self.retraining.classifier_changed.connect(self._classifier_changed)
        self.window.view.set_overlay(self._idle_overlay())
        self._selection_changed()  # the inspector's empty state, as after a click on nothing

    def _idle_overlay(self) -> str:
        """What the canvas says when it has no slide to show: how to start."""
        def keys(name: str) -> str:
            return self.window.actions[name].shortcut().toString(QKeySequence.SequenceFormat.NativeText)

        if self.session is None:
            return (
                f"No project open\n\nOpen a folder of slide images with {keys('open_folder')},\n"
                f"or an existing project with {keys('open_project')} (both in the File menu)."
            )
        return f"This project has no slides yet\n\nAdd images with {keys('import_data')} (File \u203a Import\u2026)."

    def _empty_slide_hint(self) -> str:
        """What the canvas says over a slide with no boxes: what to do next."""
        if self.slide is None or self.canvas.cells() or not self.canvas.editable:
            return ""
        keys = self.window.actions["detect_slide"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if self.models.running:
            cancel = self.window.actions["cancel_job"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            return ("No cells yet: the models are finding them\u2026\n"
                    f"The boxes appear as each slide is done ({cancel} cancels).")
        draw = self.window.actions["draw"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        return (f"No cells yet\n\nPress {keys} to detect the cells on this slide (Models \u203a Detect Cells),\n"
                f"or {draw} to draw a box yourself.")

    def _show_empty_hint(self) -> None:
        """Over a shown image only: a missing or unreadable one has its own message."""
        if self.slide is not None and self.canvas.image_state[0] in (ImageShown.OK, ImageShown.PREVIEW):
            self.window.view.set_overlay(self._empty_slide_hint())

    def _restore_settings(self) -> None:
        w = self.window
        geometry, state = self.settings.window_geometry(), self.settings.window_state()
        if geometry is not None:
            w.restoreGeometry(geometry)
        if state is not None:
            w.restoreState(state)
        threshold = self.settings.confidence_threshold()
        w.threshold.setValue(threshold * 100.0)
        self._threshold_changed(threshold)
        for name, kind in _KINDS.items():
            visible = self.settings.kind_visible(kind.value)
            w.actions[name].setChecked(visible)
            self.canvas.set_kind_visible(kind, visible)
        w.actions["propose_on_import"].setChecked(self.settings.propose_on_import())
        w.actions["learn_at_once"].setChecked(self.settings.learn_at_once())
        self.teaching.enabled = self.settings.learn_at_once()
        self.box_lesson.enabled = self.settings.learn_at_once()
        self._fill_recent_menu()

    # ------------------------------------------------------------ projects
    def ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open project", "", f"HemaLabel projects (*{PROJECT_SUFFIX});;All files (*)"
        )
        if path:
            self.open_project(path)

    def ask_open_lab_project(self) -> None:
        recent = next((p for p in self.settings.recent_projects() if is_server_address(p)), "")
        address = ask_lab_project(self.window, recent)
        if address:
            self.open_project(address)

    def ask_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open a folder of slide images")
        if path:
            self.open_project(path)

    def open_project(self, path: str | os.PathLike[str] | ServerAddress, read_only: bool | None = None) -> bool:
        """Open a project file, a project on the lab's server (a
        postgresql:// address), or the project of a folder of images (made
        and filled in the background if it has none yet)."""
        source: Path | str = str(path) if isinstance(path, ServerAddress) or is_server_address(path) else Path(path)
        to_import: Path | None = None
        if self.session is not None and self._is_open_here(source):
            self.show_project_message(f"{self.session.store.path} is already open in this window")
            return True
        try:
            if isinstance(source, Path) and source.is_dir() and not resolve_project_path(source).exists():
                images = [p for p in source.iterdir() if p.is_file() and is_image_file(p)]
                if not images:
                    raise StoreError(f"{source}: no project file and no slide images (JPEG, PNG, TIFF, BMP) here")
                # The project goes where the technician says, never into
                # the image folder unasked (the default is beside it).
                target = ask_project_file(self.window, source)
                if target is None:
                    self.show_project_message(f"Nothing opened: no place was chosen for the project of {source}")
                    return False
                # A project chosen that exists is opened and the folder's new images added to it.
                store = (ProjectStore.open if target.exists() else ProjectStore.create)(
                    target, editor=EDITOR, identity=window_identity())
                to_import = source
            elif isinstance(source, Path) and source.is_file() and is_image_file(source):  # picked through "All files"
                raise StoreError(f"{source.name} is a slide image, not a HemaLabel project: open its folder "
                                 "with File \u203a Open Folder of Images")
            else:  # a project file, or a server project's address
                store = ProjectStore.open(source, read_only=read_only, editor=EDITOR, identity=window_identity())
        except ProjectInUseError as error:  # a file's lock: a server project has none
            self.show_project_message(f"Cannot edit {source}: {error}")
            self.elsewhere.offer(Path(source), error)
            return False
        except (StoreError, OSError) as error:
            where = describe_location(source)
            self.show_project_message(f"Cannot open {where}: {error}")
            self._alert("Cannot open project", str(error))
            return False
        self.close_project()
        self.session = ProjectSession(store, self)
        self.session.changed.connect(self._on_store_events)
        self.session.save_failed.connect(self._on_save_failed)
        self.image_folders.set_session(self.session)  # before any view asks where an image is
        self.canvas.set_session(self.session)
        self.models.set_session(self.session)
        self.teaching.set_session(self.session)
        self.box_lesson.set_session(self.session)
        self.window.slide_model.set_session(self.session)
        self.claims.set_session(self.session)  # after the slide list: it marks the slides others hold
        self.window.inspector.set_classes(store.taxonomy, self.review.set_class)
        a = self.window.actions
        self.review.set_session(self.session, undo=a["undo"].trigger, redo=a["redo"].trigger)
        self.data.set_session(self.session)
        self.retraining.set_session(self.session)
        self._build_class_actions()
        self.settings.add_recent_project(store.path)
        self._fill_recent_menu()
        self.window.setWindowTitle(window_title(store.path.name))
        if store.read_only:
            self.window.read_only_banner.show_message(self._read_only_reason(store), "warning")
        else:
            self.window.read_only_banner.hide_message()
        slides = store.slides()
        if slides:
            # Where the technician stopped last time, else the first slide.
            last = self.settings.last_slide(store.path)
            self.show_slide_id(last if last is not None and any(s.id == last for s in slides) else slides[0].id)
        self._update_actions()
        self.window.focus_current_view()
        self.show_project_message(f"Opened {store.path} \u2014 {counted(len(slides), 'slide')}")
        if to_import is not None:
            self._start_import(store, to_import)
        return True

    def _is_open_here(self, source: Path | str) -> bool:
        assert self.session is not None
        open_here = self.session.store.path
        if isinstance(source, str) or isinstance(open_here, ServerAddress):
            return str(source) == str(open_here)
        try:
            return resolve_project_path(source).resolve() == open_here.resolve()
        except (OSError, StoreError):
            return False

    def _read_only_reason(self, store: ProjectStore) -> str:
        return self.elsewhere.opened(store) or (
            f"<b>Read-only project.</b> {store.path} cannot be written (read-only media or permissions). "
            "You can review, but changes are not saved."
        )

    def _start_import(self, store: ProjectStore, folder: Path) -> None:
        title = f"Adding images from {folder.name}"
        self._slides_before_import = {slide.id for slide in store.slides()}
        self._import_job = start_job(
            title,
            lambda token: import_source(store, folder, "folder", cancel=token),
            self,
            on_progress=self._job_progress,
            on_result=self._import_done,
            on_error=self._import_failed,
            on_finished=self._import_finished,
        )
        self._job_started(title, self._import_job.cancel)

    def _import_failed(self, message: str, _error: object) -> None:
        self.show_project_message(message)

    def _import_done(self, report: object) -> None:
        skipped = getattr(report, "skipped", [])
        added = getattr(report, "slides_added", 0)
        text = f"Added {counted(added, 'slide')}"
        if skipped:
            text += f"; skipped {counted(len(skipped), 'unreadable image')}: " + "; ".join(
                f"{Path(p).name}: {r}" for p, r in skipped[:3]
            )
        if self.slide is None and self.session is not None:
            slides = self.session.reader.slides()
            if slides:
                self.show_slide_id(slides[0].id)
        added_ids = [] if self.session is None else [
            slide.id for slide in self.session.reader.slides() if slide.id not in self._slides_before_import]
        if added_ids and self.settings.propose_on_import() and not self.session.read_only:
            # A plain folder opened with nothing proposed and no hint; the
            # technician's next step was always to detect and classify.
            self.models.detect_and_classify(added_ids)
            text += "; finding and classifying their cells (Models \u203a Propose Cells on Import turns this off)"
        self.show_project_message(text)

    def _import_finished(self) -> None:
        self._import_job = None
        self._hide_job_ui()

    def close_project(self) -> None:
        if self.session is None:
            return
        self.cancel_jobs()
        self.teaching.set_session(None)  # first: its timer must not start a refit on a closing store
        self.box_lesson.set_session(None)
        cancel_all_and_wait(30.0)
        self.data.set_session(None)
        self.retraining.set_session(None)  # a running fine-tune is cancelled
        self.review.set_session(None, undo=self.undo, redo=self.redo)
        cancel_all_and_wait(30.0)  # the gallery's thumbnails, a dialog's job: before the store closes
        session, self.session = self.session, None
        self.slide = None
        self._not_saved = None
        self.elsewhere.opened(None)
        self.claims.set_session(None)  # this window's claims given back while the store is open
        self.canvas.set_session(None)
        self.models.set_session(None)
        self.window.slide_model.set_session(None)
        self.image_folders.set_session(None)
        session.close()
        self.window.read_only_banner.hide_message()
        self.window.image_banner.hide_message()
        self.window.view.set_overlay(self._idle_overlay())
        self._update_hidden_note()
        self.window.setWindowTitle(window_title())
        self._update_actions()

    @property
    def adding_images(self) -> bool:
        """A folder's images are being added to the project just opened."""
        return self._import_job is not None

    def may_close(self) -> bool:
        """With a batch job running, the technician chooses: cancel it and
        quit, or keep working.  With none, closing never asks."""
        jobs = running_jobs(self)
        return not jobs or ask_quit(self.window, jobs)

    def request_quit(self) -> None:
        """File > Quit (Ctrl+Q): asks, as closing the window does."""
        if self.may_close():
            self.window.may_close = None  # asked already
            self.window.close()

    def shutdown(self) -> None:
        """The window is closing: every edit is already saved; stop workers, keep the layout."""
        self.settings.save_layout(self.window.saveGeometry(), self.window.saveState())
        self.settings.sync()
        self.close_project()
        cancel_all_and_wait(30.0)

    # ------------------------------------------------------------ slides
    def _classifier_changed(self, name: str) -> None:
        """A promoted or rolled-back model takes over every cell nobody has
        decided (classify keeps human labels and leaves signed-off slides
        alone); what the project taught is then applied on its predictions."""
        if self.session is None or self.session.read_only:
            return
        slides = [s.id for s in self.window.slide_model.slides() if s.status is not SlideStatus.SIGNED_OFF]
        if slides and self.models.classify(slides) is not None:
            self.show_project_message(f"{name} is now in use: classifying the undecided cells of "
                                      f"{len(slides)} slide{'s' if len(slides) != 1 else ''} with it")

    def _all_ids(self) -> list[int]:
        return [slide.id for slide in self.window.slide_model.slides()]

    def _current_ids(self) -> list[int]:
        return [self.slide.id] if self.slide is not None else []

    def show_slide_id(self, slide_id: int) -> None:
        if self.session is None:
            return
        if self.slide is not None and self.slide.id == slide_id:
            return
        try:
            slide = self.session.reader.slide(slide_id)
        except StoreError as error:
            self.show_message(str(error))
            return
        self.slide = slide
        self._drop_message_of_other_slide(slide_id)
        self.window.browser.select_slide(slide_id)
        self.claims.follow(slide_id)  # before the canvas: shown read-only when another station has it
        self.canvas.show_slide(slide)
        self._update_hidden_note()
        self.review.follow_slide(slide_id)
        self.settings.set_last_slide(self.session.store.path, slide_id)
        self.window.setWindowTitle(window_title(self.session.store.path.name, Path(slide.path).name))
        neighbours = [self.window.browser.slide_after(slide_id, step) for step in (1, -1)]
        self.canvas.prefetch([s for s in neighbours if s is not None])
        self._update_actions()

    def step_slide(self, delta: int) -> None:
        """PgDown / PgUp: the next or previous slide.  In the gallery showing
        every slide they page through the cells instead, as in any grid:
        there the slide is not what the view shows, and moving to the next
        one used to narrow the gallery to it, losing the view chosen."""
        gallery = self.review.gallery
        if self.review.gallery_active and gallery is not None and gallery.slide_id is None:
            gallery.view.page(delta)
            return
        if self.slide is None:
            return
        # The list's order, filtered and sorted as the technician chose.
        following = self.window.browser.slide_after(self.slide.id, delta)
        if following is not None:
            self.show_slide_id(following.id)

    def ask_locate(self) -> None:
        if self.slide is None or self.session is None:
            return
        start = self.session.store.image_path(self.slide).parent
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            f"Locate {Path(self.slide.path).name}",
            str(start if start.exists() else self.session.store.folder),
            "Images (*.jpg *.jpeg *.png *.tif *.tiff *.bmp);;All files (*)",
        )
        if path:
            self.relocate(self.slide.id, path)

    def relocate(self, slide_id: int, path: str | os.PathLike[str]) -> bool:
        assert self.session is not None
        if self.image_folders.offer_for_located(self.session.reader.slide(slide_id), path):
            return True
        try:
            info = probe_image(path, verify_pixels=False)
            slide = self.session.store.relocate_slide(slide_id, path, info.width, info.height)
        except (ImageReadError, StoreError) as error:
            self.show_message(str(error))
            self._alert("Cannot use this image", str(error))
            return False
        self.window.slide_model.refresh_slide(slide_id)
        if self.slide is not None and self.slide.id == slide_id:
            self.slide = slide
            self.canvas.refresh_slide(slide)
        self.show_message(f"{Path(slide.path).name} found at {path}")
        return True

    def _images_remapped(self, slide_ids: list[int]) -> None:
        """An image folder was mapped or unmapped: those slides' images are looked for anew."""
        for slide_id in slide_ids:
            self.window.slide_model.refresh_slide(slide_id)
        self.canvas.forget_images(slide_ids)
        if self.slide is not None and self.slide.id in slide_ids:
            self.canvas.show_slide(self.slide)

    # ------------------------------------------------------------ store events
    def _on_store_events(self, events: list[StoreEvent]) -> None:
        if self.session is None or self.sender() is not self.session:
            return  # a late batch from a project already closed
        self.window.slide_model.on_store_events(events)
        self.canvas.on_store_events(events)
        if self.slide is not None and any(e.kind.about_cells and e.slide_id == self.slide.id for e in events):
            self._show_empty_hint()
        kinds = {event.kind for event in events}
        if self.slide is not None and any(
            e.kind is StoreEventKind.RELOADED
            or (e.kind is StoreEventKind.SLIDE_CHANGED and e.slide_id == self.slide.id)
            for e in events
        ):
            self.slide = self.session.reader.slide(self.slide.id)
            self.claims.recheck()  # a take-over at another station is announced as the slide's change
            self.canvas.refresh_slide(self.slide)
            self._update_actions()
        if StoreEventKind.RELOADED in kinds and self._classes_built != self.session.taxonomy.names:
            self._build_class_actions()  # a class was added (Blast, with a confirmed flag)
            self.window.inspector.set_classes(self.session.taxonomy, self.review.set_class)
            self.review.classes_changed()
            self._update_actions()
        if StoreEventKind.HISTORY_CHANGED in kinds:
            self._update_undo_actions()
        if self._not_saved is not None:
            self._not_saved = None  # an edit has been saved since: the file takes edits again
            self._update_lock_banner()
        if StoreEventKind.SLIDE_ADDED in kinds:
            if self.slide is None:
                added = [e.slide_id for e in events if e.kind is StoreEventKind.SLIDE_ADDED and e.slide_id is not None]
                self.show_slide_id(added[0])
            self._update_actions()

    def _on_save_failed(self, text: str) -> None:
        """An edit was not saved: say so where it cannot be missed, until an
        edit is saved again.  One dialog per run of failures, not per edit."""
        if self.session is None or self.sender() is not self.session:
            return
        first = self._not_saved is None
        self._not_saved = text
        self._update_lock_banner()
        self.show_message(text)
        if first:
            self._alert("Not saved", text)

    def _held_elsewhere(self, held: bool) -> None:
        """The slide on show became, or stopped being, another station's."""
        self.canvas.set_held_elsewhere(held)
        self._update_actions()

    def undo(self) -> None:
        self._history_step(undo=True)

    def redo(self) -> None:
        self._history_step(undo=False)

    def _history_step(self, undo: bool) -> None:
        if self.session is None or self.session.read_only:
            return
        if self.models.running:
            self.show_message("Undo and redo wait until the model run has finished (or is cancelled).")
            return
        try:
            # The store refuses a step that would change a signed slide, naming it.
            step = self.session.store.undo_step() if undo else self.session.store.redo_step()
        except StoreError as error:
            self.show_message(str(error))
            return
        if step is not None:
            where = self._reveal_step(step)
            self.show_message(("Undid: " if undo else "Redid: ") + step.description + where)
        self._update_undo_actions()

    def _reveal_step(self, step: HistoryStep) -> str:
        """An undo or redo that changed cells on another slide than the one on
        show goes to that slide and selects them, so no change lands unseen;
        returns what the status bar adds about where it went."""
        if self.session is None or not step.slide_ids:
            return ""
        gallery = self.review.gallery if self.review.gallery_active else None
        if gallery is not None and gallery.slide_id is None:
            gallery.select_cells([cell_id for _slide_id, cell_id in step.cells])  # every slide is on show
            return ""
        if self.slide is not None and self.slide.id in step.slide_ids:
            return ""
        slide_id = step.slide_ids[0]
        self.show_slide_id(slide_id)
        if self.slide is None or self.slide.id != slide_id:
            return ""  # the slide could not be shown; show_slide_id said why
        ids = [cell_id for on, cell_id in step.cells if on == slide_id]
        if gallery is not None:
            gallery.select_cells(ids)
        else:
            self._show_kinds_of(slide_id, ids)
            self.canvas.select_cells(ids)
        others = len(step.slide_ids) - 1
        return f" — on {Path(self.slide.path).name}, now shown" + (
            f" (and {counted(others, 'other slide')})" if others else "")

    def _show_kinds_of(self, slide_id: int, cell_ids: list[int]) -> None:
        """Turn on the kinds of these cells where hidden, so that they can be selected."""
        assert self.session is not None
        wanted = set(cell_ids)
        kinds = {cell.kind for cell in self.session.reader.cells(slide_id) if cell.id in wanted}
        for name, kind in _KINDS.items():
            if kind in kinds and not self.window.actions[name].isChecked():
                self.window.actions[name].setChecked(True)

    # ------------------------------------------------------------ gallery and canvas
    def show_cell_on_canvas(self, cell_id: int) -> None:
        """A gallery double-click: the cell's slide on the canvas, the cell
        selected and in view."""
        if self.session is None:
            return
        try:
            cell = self.session.reader.cell(cell_id)
        except StoreError as error:
            self.show_message(str(error))
            return
        self.show_slide_id(cell.slide_id)
        if cell.kind is CellKind.WHITE and not self.window.actions["show_white"].isChecked():
            self.window.actions["show_white"].setChecked(True)
        self.review.show_gallery(False)
        self.canvas.select(cell_id)

    def _view_changed(self, gallery_on: bool) -> None:
        if gallery_on and self.review.gallery is not None:
            self.review.select_in_gallery(self.canvas.selected_cells())
            current = self.review.gallery.current_cell_id()
            if current is not None:
                self.review.show_current_cell(current)
        else:
            self._selection_changed()
        self._update_actions()

    # ------------------------------------------------------------ classes
    def _build_class_actions(self) -> None:
        for action in self._class_actions:
            self.window.removeAction(action)
            action.deleteLater()
        self.window.class_menu.clear()
        self._class_actions = []
        assert self.session is not None
        self._classes_built = self.session.taxonomy.names
        for item in self.session.taxonomy.classes:
            action = QAction(item.display, self.window)
            action.setObjectName(f"class_{item.name}")
            if item.key:
                action.setShortcut(QKeySequence(item.key))
                action.setToolTip(f"Set the selected cells to {item.display} ({item.key})")
            action.triggered.connect(lambda _=False, name=item.name: self.review.set_class(name))
            self.window.add_class_action(action)
            self._class_actions.append(action)

    # ------------------------------------------------------------ UI state
    def _update_actions(self) -> None:
        a = self.window.actions
        has_project = self.session is not None
        editable = has_project and not self.session.read_only
        has_slide = self.slide is not None
        slide_editable = self.canvas.editable
        running = self.models.running
        gallery = self.review.gallery_active
        # The gallery may show every slide: the store refuses a signed-off one, with its reason.
        cells_editable = editable if gallery else slide_editable
        for name in ("delete", "accept_selected", "confirm_blast", "dismiss_blast", "kind_white", "kind_red",
                     "kind_platelet"):
            a[name].setEnabled(cells_editable)
        for name in ("draw", "accept_all"):
            a[name].setEnabled(slide_editable and not gallery)
        for action in self._class_actions:
            action.setEnabled(cells_editable)
        self.window.inspector.set_editable(cells_editable)
        a["sign_off"].setEnabled(editable and has_slide)
        a["sign_off"].setIconText("Unlock" if has_slide and self.slide.status is SlideStatus.SIGNED_OFF else "Sign Off")
        a["import_data"].setEnabled(editable)
        for name in ("export_data", "report_project", "audit_trail"):
            a[name].setEnabled(has_project)
        a["report_slide"].setEnabled(has_slide)
        a["locate_image"].setEnabled(has_slide and editable)
        a["image_folders"].setEnabled(self.session is not None)
        a["sample_id"].setEnabled(has_slide and editable)
        a["retrain"].setEnabled(has_project)
        a["screen_settings"].setEnabled(editable)
        for name in ("detect_slide", "classify_slide"):
            a[name].setEnabled(slide_editable and not running)
        self._update_lock_banner()
        self._update_proposals_banner()
        for name in ("detect_all", "classify_all", "pipeline_all"):
            a[name].setEnabled(editable and not running and self.window.slide_model.rowCount() > 0)
        a["cancel_job"].setEnabled(running or self._import_job is not None)
        for name in ("next_slide", "previous_slide", "next_cell", "previous_cell"):
            a[name].setEnabled(has_slide)
        for name in ("fit", "zoom_actual"):
            a[name].setEnabled(has_slide and not gallery)
        for name in ("zoom_in", "zoom_out"):  # in the gallery: its tiles
            a[name].setEnabled(has_slide or (gallery and self.review.gallery is not None))
        self._update_undo_actions()

    def _update_lock_banner(self) -> None:
        banner = self.window.read_only_banner
        if self.session is None or self.session.read_only:
            return
        if self._not_saved is not None:
            banner.show_message(f"<b>Not saved.</b> {html.escape(self._not_saved)}.", "error")
            return
        slide = self.slide
        if slide is not None and slide.status is SlideStatus.SIGNED_OFF:
            who = f" by {html.escape(slide.signed_off_by)}" if slide.signed_off_by else ""
            keys = self.window.actions["sign_off"].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            banner.show_message(f"<b>Signed off{who}.</b> This slide is locked; its boxes and classes cannot be "
                                f"changed until it is unlocked with a reason ({html.escape(keys)}).", "info")
        else:
            banner.hide_message()

    def _update_proposals_banner(self) -> None:
        """The detector's verdict on the slide on show: its proposals are
        not to be trusted unchecked where it found the field unlike its
        training fields (core.detection.familiarity)."""
        banner = self.window.proposals_banner
        if self.slide is None or not slide_is_unlike(self.slide):
            banner.hide_message()
            return
        turn = slide_colour_turn(self.slide)
        outcome = (f"; it looked for cells with the field's {turn}, the colours it knows (and where most of the "
                   "project's turned fields share that turn, their cells are classified in it too)"
                   if turn is not None else ", so it may have called red cells white or missed cells")
        banner.show_message(f"<b>{UNRELIABLE}.</b> Its colours are unlike those of the fields the detector "
                            f"learnt from{outcome}.", "warning")
        banner.label.setAccessibleDescription(f"{UNRELIABLE}.")

    def _update_undo_actions(self) -> None:
        a = self.window.actions
        store = self.session.reader if self.session is not None and not self.session.read_only else None
        undo_text = store.undo_description() if store else None
        redo_text = store.redo_description() if store else None
        # The history is the project's, not the window's: while a model run
        # writes its own steps, Undo would take back the run's latest slide
        # rather than the technician's last edit, so it waits for the run.
        busy = self.models.running
        a["undo"].setEnabled(undo_text is not None and not busy)
        a["redo"].setEnabled(redo_text is not None and not busy)
        if busy:
            undo_text = redo_text = None
        a["undo"].setText(f"&Undo {undo_text}" if undo_text else "&Undo")
        a["redo"].setText(f"&Redo {redo_text}" if redo_text else "&Redo")

    def _selection_changed(self) -> None:
        cells = self.canvas.selected_cells()
        taxonomy = self.session.taxonomy if self.session else None
        self.window.inspector.show_cells(cells, taxonomy, self.canvas.image())

    def _image_state_changed(self, slide_id: int, state: ImageShown, reason: str) -> None:
        w = self.window
        w.slide_model.set_problem(slide_id, state, reason) if slide_id else None
        name = Path(self.slide.path).name if self.slide else ""
        if state == ImageShown.MISSING and self.image_folders.covers(slide_id):
            # The folder banner already says it, for every slide of the folder.
            w.image_banner.hide_message()
            w.view.set_overlay(f"Image missing\n{name}\n\nIts folder is not found: use Map Folder\u2026 above.")
        elif state == ImageShown.MISSING:
            where = self.session.store.image_path(self.slide) if self.session and self.slide else name
            w.image_banner.show_message(f"<b>Image missing.</b> {where} is not there any more (moved or renamed?).",
                                        "error", "Locate\u2026")
            w.view.set_overlay(f"Image missing\n{name}\n\nUse Locate\u2026 (Ctrl+L) to point to where it is now.")
        elif state in (ImageShown.UNREADABLE, ImageShown.TOO_LARGE):
            w.image_banner.show_message(f"<b>Cannot show {name}.</b> {reason}", "error")
            w.view.set_overlay(f"Cannot show this image\n{reason}")
        elif state == ImageShown.CHANGED:
            # Shown as it is; detection, classification and export skip it.
            w.image_banner.show_message(f"<b>{name} has changed.</b> {reason[:1].upper()}{reason[1:]}.", "warning")
            w.view.set_overlay("")
        elif state == ImageShown.LOADING:
            w.image_banner.hide_message()
            w.view.set_overlay("")
        elif state in (ImageShown.OK, ImageShown.PREVIEW):
            w.image_banner.hide_message()
            w.view.set_overlay(self._empty_slide_hint())
        else:  # no slide
            w.image_banner.hide_message()
            w.view.set_overlay(self._idle_overlay())

    def _zoom(self, step: int) -> None:
        """View > Zoom In / Out: the slide on the canvas, the tiles in the gallery."""
        gallery = self.review.gallery
        if self.review.gallery_active and gallery is not None:
            gallery.zoom_tiles(step)
        elif step > 0:
            self.window.view.zoom_in()
        else:
            self.window.view.zoom_out()

    def _set_kind_visible(self, kind: CellKind, visible: bool) -> None:
        self.canvas.set_kind_visible(kind, visible)
        self.settings.set_kind_visible(kind.value, visible)
        self._update_hidden_note()

    def _update_hidden_note(self) -> None:
        """W, R and P hide every box of a kind: the canvas says which are
        hidden while it shows a slide, so a slide does not look bare."""
        hidden = [] if self.slide is None else [
            (kind, self.window.actions[name].shortcut().toString(QKeySequence.SequenceFormat.NativeText))
            for name, kind in _KINDS.items() if not self.window.actions[name].isChecked()]
        self.window.view.set_corner_note(hidden_kinds_note(hidden))

    def open_screen_settings(self):  # noqa: ANN201 - ScreenSettingsDialog, imported late
        """The project's lymphoid-screen setting, window-modal; returns the dialog."""
        from app.gui.dialogs.screen_settings_dialog import ScreenSettingsDialog

        if self.session is None:
            return None
        dialog = ScreenSettingsDialog(self.window, self.session.store)
        dialog.finished.connect(lambda _result: self.window.focus_current_view())
        dialog.open()
        return dialog

    def ask_threshold(self) -> None:
        """The tool bar's box from the keyboard, which cannot reach it (and a
        narrow window hides it behind the tool bar's » button)."""
        box = self.window.threshold
        value, ok = QInputDialog.getInt(
            self.window, "Minimum confidence",
            "Cells the classifier is less sure of go to Unidentified.\nPercent, or 0 for each model's own threshold:",
            round(box.value()), 0, 100, 5,
        )
        if ok:
            box.setValue(value)
        self.window.focus_current_view()

    def _threshold_changed(self, value: float) -> None:
        self.canvas.set_threshold(value)
        self.models.threshold = value
        self.settings.set_confidence_threshold(value)
        self.teaching.thresholds_changed()

    def _with_threshold(self, classifier: CellClassifier) -> CellClassifier:
        """The classifier judged with the minimum confidence in use."""
        minimum = self.models.threshold
        return ThresholdedClassifier(classifier, minimum) if minimum > 0 else classifier

    def _informative_wanted(self) -> None:
        if not self.teaching.enabled:
            self.show_message("Teach first needs Models \u203a Learn From Each Decision, which is off")
            return
        self.teaching.rank()

    def _set_learning(self, on: bool) -> None:
        self.settings.set_learn_at_once(on)
        self.teaching.set_enabled(on)
        self.box_lesson.set_enabled(on)

    def _cursor_moved(self, x: float, y: float) -> None:
        if self.slide is not None and 0 <= x < self.slide.width and 0 <= y < self.slide.height:
            self.window.position_label.setText(f"x {x:.0f}  y {y:.0f}")
        else:
            self.window.position_label.setText("")

    def _context_menu(self, point: QPoint) -> None:
        if self.canvas.selected_ids():
            self.window.canvas_context_menu().exec(self.window.view.mapToGlobal(point))

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.session.taxonomy if self.session else None, self.window).exec()
        self.window.focus_current_view()

    def _alert(self, title: str, text: str) -> None:
        """A warning that does not block the event loop (or a test)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_message(self, text: str) -> None:
        """A status-bar message about what is on show: it goes after 15 s,
        or as soon as another slide is shown, so that no word about one
        slide stays up under the next."""
        self._show_status(text, self.slide.id if self.slide is not None else None)

    def show_project_message(self, text: str) -> None:
        """A message about the project or a background job (a run finished,
        a report written): it stays its 15 s whichever slide is on show."""
        self._show_status(text, None)

    def _show_status(self, text: str, slide_id: int | None) -> None:
        self._message = (text, slide_id)
        self.window.statusBar().showMessage(text, 15000)

    def _drop_message_of_other_slide(self, slide_id: int) -> None:
        text, about = self._message
        bar = self.window.statusBar()
        if about is not None and about != slide_id and text and bar.currentMessage() == text:
            bar.clearMessage()

    def _fill_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        recent = self.settings.recent_projects()
        for path in recent:
            action = menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_project(p))
        menu.setEnabled(bool(recent))

    # ------------------------------------------------------------ jobs on the status bar
    def _job_started(self, title: str, cancel) -> None:  # noqa: ANN001
        w = self.window
        self._job_started_at = time.perf_counter()
        w.job_label.setText(title)
        w.job_progress.setRange(0, 0)
        for widget in (w.job_label, w.job_progress, w.cancel_button):
            widget.setVisible(True)
        w.cancel_button.setEnabled(True)
        self._update_actions()

    def _job_progress(self, progress: Progress) -> None:
        w = self.window
        if progress.total > 0:
            w.job_progress.setRange(0, progress.total)
            w.job_progress.setValue(progress.done)
            w.job_progress.setFormat(f"{progress.done} / {progress.total}")
        if progress.message:
            w.job_label.setText(progress.message if len(progress.message) < 60 else progress.message[:57] + "\u2026")

    def _job_finished(self, summary: str) -> None:
        self._hide_job_ui()
        self.show_project_message(summary)

    def _hide_job_ui(self) -> None:
        if self.models.running or self._import_job is not None:
            return
        w = self.window
        for widget in (w.job_label, w.job_progress, w.cancel_button):
            widget.setVisible(False)
        self._update_actions()

    def cancel_jobs(self) -> None:
        self.models.cancel()
        if self._import_job is not None:
            self._import_job.cancel()
        self.window.cancel_button.setEnabled(False)
