"""Which of a project's images cannot be found, grouped by folder, so a
share that is not mounted is one message ("Images of 120 slides are not
found under /mnt/lab/scans ...") rather than one failure per slide; and
the image root that would find them, from a folder the technician names
or from one image located elsewhere.  The window, `hemalabel info` and
anything else that asks go through here."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.image_roots import as_slashed, relative_under, stored_location
from core.schema import Slide
from core.store.reading import ProjectReader
from core.wording import counted


@dataclass(frozen=True, slots=True)
class MissingFolder:
    """Slides whose images are missing under one folder."""

    stored: str  # the folder as the project names it, before the user's mapping
    looked_in: Path  # where this computer looked for it
    slide_ids: tuple[int, ...]
    state: str  # "missing": no such folder; "empty": there but empty; "present": there, files not

    def message(self) -> str:
        """One sentence naming the folder, the count and the likely cause."""
        n = len(self.slide_ids)
        images = "The image of 1 slide is" if n == 1 else f"Images of {n} slides are"
        mapped = "" if as_slashed(self.looked_in) == self.stored else f" (mapped from {self.stored})"
        cause = {
            "missing": "the folder is missing or not mounted",
            "empty": "the folder is empty: is the share mounted?",
            "present": "the folder is there but these files are not",
        }[self.state]
        return f"{images} not found under {self.looked_in}{mapped} ({cause})"


@dataclass(frozen=True, slots=True)
class RootCheck:
    """What mapping the stored folder `stored` to `local` would find."""

    stored: str
    local: str
    found: int  # slides under `stored` whose image is under `local`
    total: int  # slides the project has under `stored`

    def worth_mapping(self) -> bool:
        """Finds images at all: the technician is asked; nothing found, refused."""
        return self.found > 0

    def summary(self) -> str:
        return f"{counted(self.found, 'slide')} of {self.total} found under {self.local}"


def missing_image_folders(store: ProjectReader, slides: Iterable[Slide] | None = None) -> list[MissingFolder]:
    """The project's slides whose images are not found where this computer
    looks, grouped by the topmost missing folder above them (every slide of
    a share that is gone falls in one group, two shares gone make two), or
    by the empty folder they should be in (an unmounted share's mount
    point); largest group first."""
    folders_seen: dict[Path, bool] = {}
    empty_seen: dict[Path, bool] = {}

    def is_dir(folder: Path) -> bool:
        if folder not in folders_seen:
            folders_seen[folder] = folder.is_dir()
        return folders_seen[folder]

    def is_empty(folder: Path) -> bool:
        if folder not in empty_seen:
            empty_seen[folder] = _is_empty(folder)
        return empty_seen[folder]

    groups: dict[tuple[Path, str], list[tuple[Slide, Path]]] = {}
    for slide in store.slides() if slides is None else slides:
        looked = Path(os.path.normpath(store.image_path(slide)))
        if is_dir(looked.parent) and looked.is_file():
            continue
        existing = looked.parent
        while not is_dir(existing) and existing.parent != existing:
            existing = existing.parent
        below = looked.relative_to(existing).parts
        gone = "" if len(below) == 1 or is_empty(existing) else below[0]
        groups.setdefault((existing, gone), []).append((slide, looked))
    found = [_missing_folder(store, members) for members in groups.values()]
    return sorted(found, key=lambda group: (-len(group.slide_ids), str(group.looked_in)))


def _missing_folder(store: ProjectReader, members: list[tuple[Slide, Path]]) -> MissingFolder:
    looked_in = Path(os.path.normpath(os.path.commonpath([looked.parent for _, looked in members])))
    stored_folders = [posixpath.dirname(stored_location(slide.path, store.folder)) for slide, _ in members]
    try:
        stored = posixpath.commonpath(stored_folders)
    except ValueError:  # "Z:/..." beside "/mnt/...": nothing in common to name
        stored = as_slashed(looked_in)
    state = "missing" if not looked_in.is_dir() else "empty" if _is_empty(looked_in) else "present"
    return MissingFolder(as_slashed(stored), looked_in, tuple(slide.id for slide, _ in members), state)


def _is_empty(folder: Path) -> bool:
    """Nothing in the folder; one that cannot be listed counts as not empty."""
    try:
        return not any(folder.iterdir())
    except OSError:
        return False


def check_root(store: ProjectReader, stored: str, local: str | os.PathLike[str]) -> RootCheck:
    """How many of the slides the project keeps under `stored` have their
    image at the same place under `local`: counted before a mapping is kept."""
    stored_text, local_text = as_slashed(stored), as_slashed(local)
    found = total = 0
    for _slide, rest in _under(store, stored_text):
        total += 1
        found += Path(posixpath.join(local_text, rest) if rest else local_text).is_file()
    return RootCheck(stored_text, local_text, found, total)


def slides_under(store: ProjectReader, stored: str) -> list[int]:
    """The slides, by id, whose images the project keeps under the folder
    `stored` (as `as_slashed` gives it): those a mapping of it moves."""
    return [slide.id for slide, _rest in _under(store, stored)]


def _under(store: ProjectReader, stored: str) -> Iterator[tuple[Slide, str]]:
    """Each slide kept under `stored`, with its image's path below it."""
    for slide in store.slides():
        rest = relative_under(stored_location(slide.path, store.folder), stored)
        if rest is not None:
            yield slide, rest


def propose_root(store: ProjectReader, slide: Slide, located: str | os.PathLike[str]) -> RootCheck | None:
    """The image root implied by one image located elsewhere: the stored and
    the located path share their last folders and file name, and what comes
    before differs (".../scans/p1/a.png" found as "/media/new/p1/a.png" maps
    ".../scans" to "/media/new").  None when the file names differ or the
    paths share everything but nothing to map."""
    stored_parts = PurePosixPath(stored_location(slide.path, store.folder)).parts
    located_parts = PurePosixPath(as_slashed(os.path.abspath(located))).parts
    shared = 0
    while (shared < min(len(stored_parts), len(located_parts)) - 1
           and stored_parts[-1 - shared] == located_parts[-1 - shared]):
        shared += 1
    if shared == 0:
        return None
    stored_root = as_slashed(PurePosixPath(*stored_parts[:-shared]))
    local_root = as_slashed(PurePosixPath(*located_parts[:-shared]))
    if stored_root == local_root:
        return None
    return check_root(store, stored_root, local_root)
