"""The window's side of image folders on a share: on opening a project, one
banner per folder whose images are missing (not one error per slide), with
Map Folder… to say where that folder is on this computer; Locate offering
to map a whole folder; File › Image Folders… to review the mappings.  The
mappings are the user's, per project, in their settings; core applies them
(core.image_roots) and finds what is missing (core.missing_images).

The look on opening runs in the background: a share that is gone can keep
a folder check waiting for the network far longer than a window may freeze."""

from __future__ import annotations

import html
import os
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.banner import Banner
from app.gui.questions import ask_before
from app.gui.session import ProjectSession
from app.gui.settings import AppSettings
from app.gui.worker import start_call
from core.image_roots import NO_IMAGE_ROOTS, ImageRoots
from core.missing_images import (
    MissingFolder,
    RootCheck,
    check_root,
    missing_image_folders,
    propose_root,
    slides_under,
)
from core.schema import Slide


class ImageFolders(QObject):
    """Keeps the open project's image roots and says what is missing.
    `tell` puts a line in the status bar; `alert` shows a warning;
    `remapped(slide_ids)` redraws the slides whose images moved."""

    def __init__(
        self,
        parent: QWidget,
        settings: AppSettings,
        banner: Banner,
        tell: Callable[[str], None],
        alert: Callable[[str, str], None],
        remapped: Callable[[list[int]], None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self.banner = banner
        self._tell = tell
        self._alert = alert
        self._remapped = remapped
        self.session: ProjectSession | None = None
        self.missing: list[MissingFolder] = []
        self.checking = False  # the look on opening has not answered yet
        banner.button.clicked.connect(self.ask_map_folder)

    # ------------------------------------------------------------ the open project
    def set_session(self, session: ProjectSession | None) -> None:
        """Apply the user's mappings of this project, then look, in the
        background, for what is missing."""
        self.session = session
        self._show([])
        if session is None:
            return
        self._use(ImageRoots.of(self._settings.image_roots(session.store.path, session.store.project_id)))
        reader = session.reader
        self.checking = True
        start_call("Looking for the slides' image folders", lambda: (reader, missing_image_folders(reader)), self,
                   on_result=self._looked_on_opening, on_error=self._look_failed, on_finished=self._look_ended)

    def _looked_on_opening(self, answer: tuple[object, list[MissingFolder]]) -> None:
        reader, groups = answer
        if self.session is None or self.session.reader is not reader:
            return  # a project since closed
        self._show(groups)
        # Slides already drawn as missing one by one are drawn again under the folder's banner.
        self._remapped(sorted({slide_id for group in self.missing for slide_id in group.slide_ids}))

    def _look_failed(self, message: str, _error: object) -> None:
        self._tell(f"Could not look for the slides' image folders: {message}")

    def _look_ended(self) -> None:
        self.checking = False

    def roots(self) -> ImageRoots:
        return self.session.store.image_roots if self.session is not None else NO_IMAGE_ROOTS

    def _use(self, roots: ImageRoots) -> None:
        assert self.session is not None
        # The views read through the reader, edits and jobs through the store: both look in the same place.
        self.session.store.image_roots = roots
        self.session.reader.image_roots = roots

    def check(self) -> None:
        """Look again, here and now: after a folder was mapped or unmapped,
        when the folder just chosen is known to be there."""
        self._show(missing_image_folders(self.session.reader) if self.session is not None else [])

    def _show(self, groups: list[MissingFolder]) -> None:
        """The banner names the largest missing folder and how many more there
        are.  One file gone from a folder that is there is the slide's own
        banner's (Locate…), not a folder's."""
        self.missing = [group for group in groups if group.state != "present" or len(group.slide_ids) > 1]
        if not self.missing:
            self.banner.hide_message()
            return
        more = len(self.missing) - 1
        after = f" ({more} more folder{'s' if more > 1 else ''} after this one.)" if more else ""
        self.banner.show_message(
            f"<b>Images not found.</b> {html.escape(self.missing[0].message())}.{after}", "error", "Map Folder\u2026"
        )

    def covers(self, slide_id: int) -> bool:
        """Whether the banner speaks for this slide's missing image."""
        return any(slide_id in group.slide_ids for group in self.missing)

    # ------------------------------------------------------------ mapping a folder
    def ask_map_folder(self) -> None:
        if self.session is None or not self.missing:
            return
        group = self.missing[0]
        folder = QFileDialog.getExistingDirectory(
            self._parent, f"Where is {group.stored} on this computer?", str(self.session.store.folder)
        )
        if folder:
            self.map_folder(group.stored, folder)

    def map_folder(self, stored: str, local: str | os.PathLike[str]) -> bool:
        """Map `stored` to `local` once its slides are counted there: none
        found is refused; some found, the technician is asked first."""
        assert self.session is not None
        check = check_root(self.session.reader, stored, local)
        if not check.worth_mapping():
            self._alert("Folder not mapped", f"{local}: none of the {check.total} slides stored under {stored} "
                                             "is there (the same subfolders and file names are looked for)")
            return False
        if check.found < check.total and not ask_before(
            self._parent, "Map Image Folder",
            f"{check.summary()}; the other {check.total - check.found} would still be missing. Map "
            f"{stored} to {check.local}?", "Map Folder", "Cancel", "mapFolderQuestion",
        ):
            return False
        self.keep(check)
        return True

    def keep(self, check: RootCheck) -> None:
        """Keep the mapping for this user and project, and show the slides it finds."""
        self._change(self.roots().with_root(check.stored, check.local), check.stored,
                     f"Image folder {check.stored} mapped to {check.local}: {check.summary()}")

    def offer_for_located(self, slide: Slide, located: str | os.PathLike[str]) -> bool:
        """Locate found one image: when its folder holds other slides'
        images too, offer to map the whole folder.  True when mapped."""
        assert self.session is not None
        proposal = propose_root(self.session.reader, slide, located)
        if proposal is None or proposal.found < 2:
            return False
        if not ask_before(
            self._parent, "Map the Whole Folder?",
            f"{proposal.summary()}. Map {proposal.stored} to {proposal.local} for this project (kept in your "
            "settings; the project is not changed), rather than this slide alone?",
            "Map Folder", "Only This Slide", "mapWholeFolderQuestion",
        ):
            return False
        self.keep(proposal)
        return True

    def remove(self, stored: str) -> None:
        self._change(self.roots().without(stored), stored, f"Image folder {stored} no longer mapped")

    def _change(self, roots: ImageRoots, stored: str, told: str) -> None:
        """Keep `roots` in the user's settings and use them; the slides under
        `stored` are looked for anew."""
        assert self.session is not None
        self._settings.set_image_roots(self.session.store.path, self.session.store.project_id, roots.as_dict())
        self._use(roots)
        self._remapped(slides_under(self.session.reader, stored))
        self.check()
        self._tell(told)

    # ------------------------------------------------------------ File › Image Folders…
    def review(self) -> None:
        if self.session is None:
            return
        ImageFoldersDialog(self._parent, self).exec()


class ImageFoldersDialog(QDialog):
    """The open project's image folder mappings, each removable."""

    def __init__(self, parent: QWidget | None, folders: ImageFolders) -> None:
        super().__init__(parent)
        self.setObjectName("imageFoldersDialog")
        self.setWindowTitle("Image Folders")
        self._folders = folders
        note = QLabel("Where this project's image folders are on this computer. Kept in your settings "
                      "for this project only; the project file is not changed.")
        note.setWordWrap(True)
        self.list = QListWidget()
        self.remove_button = QPushButton("&Remove Mapping")
        self.remove_button.clicked.connect(self._remove)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.list)
        layout.addWidget(self.remove_button)
        layout.addWidget(buttons)
        self.resize(560, 300)
        self._fill()

    def _fill(self) -> None:
        self.list.clear()
        for stored, local in self._folders.roots().pairs:
            item = QListWidgetItem(f"{stored}  \u2192  {local}")
            item.setData(Qt.ItemDataRole.UserRole, stored)
            self.list.addItem(item)
        if not self.list.count():
            self.list.addItem("No folder is mapped: images are looked for where the project says.")
        self.list.setCurrentRow(0)
        self.remove_button.setEnabled(bool(self._folders.roots()))

    def _remove(self) -> None:
        item = self.list.currentItem()
        stored = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if stored:
            self._folders.remove(str(stored))
            self._fill()
