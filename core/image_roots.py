"""A user's image roots: where folders a project names are found on this
computer ("//labserver/scans" is "Z:/scans" here, "/mnt/old" is
"/media/new").  The store applies them when it says where a slide's image
is; they are the user's, kept outside the project, so each workstation
maps a shared project's images to its own mount.

Paths are compared as text with forward slashes, component by component,
so a project written on one system can be mapped on another; the longest
matching folder wins.  Case is ignored on Windows only, as its file
systems do."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_DRIVE = re.compile(r"^[A-Za-z]:/")


def as_slashed(path: str | os.PathLike[str]) -> str:
    """A path as text with forward slashes and no trailing one (but "/",
    "//" and "Z:/" kept whole), so paths from any system compare as text."""
    text = os.fspath(path).replace("\\", "/")
    unc = text.startswith("//")
    text = posixpath.normpath(text)
    if unc and not text.startswith("//"):  # normpath folds a UNC's "//" into "/"
        text = "/" + text
    return text + "/" if re.fullmatch(r"[A-Za-z]:", text) else text


def is_absolute_anywhere(text: str) -> bool:
    """Absolute on some system: "/x", "//server/share", "Z:/x"."""
    slashed = text.replace("\\", "/")
    return slashed.startswith("/") or bool(_DRIVE.match(slashed))


def _key(text: str) -> str:
    return text.casefold() if os.name == "nt" else text


def relative_under(path: str, folder: str) -> str | None:
    """`path`'s part below `folder` ("" for the folder itself), or None when
    it lies elsewhere; both as `as_slashed` gives them."""
    if _key(path) == _key(folder):
        return ""
    prefix = folder if folder.endswith("/") else folder + "/"
    if _key(path).startswith(_key(prefix)):
        return path[len(prefix):]
    return None


def parse_root(text: str) -> tuple[str, str]:
    """"OLD=NEW" as a pair; the first "=" divides them."""
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise ValueError(f"{text!r}: expected OLD=NEW, a folder the project names and where it is here")
    return as_slashed(old.strip()), as_slashed(new.strip())


@dataclass(frozen=True, slots=True)
class ImageRoots:
    """Stored folder -> local folder, as pairs of slashed text."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> ImageRoots:
        items = mapping.items() if isinstance(mapping, Mapping) else mapping
        roots = cls()
        for old, new in items:
            roots = roots.with_root(old, new)
        return roots

    def with_root(self, stored: str | os.PathLike[str], local: str | os.PathLike[str]) -> ImageRoots:
        """These roots with `stored` mapped to `local` (replacing any mapping of `stored`)."""
        return ImageRoots((*self.without(stored).pairs, (as_slashed(stored), as_slashed(local))))

    def without(self, stored: str | os.PathLike[str]) -> ImageRoots:
        old = as_slashed(stored)
        return ImageRoots(tuple(pair for pair in self.pairs if _key(pair[0]) != _key(old)))

    def as_dict(self) -> dict[str, str]:
        return dict(self.pairs)

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def local(self, stored: str) -> str | None:
        """Where the stored location (slashed text) is on this computer, or
        None when no root maps it."""
        best: tuple[str, str, str] | None = None
        for old, new in self.pairs:
            rest = relative_under(stored, old)
            if rest is not None and (best is None or len(old) > len(best[0])):
                best = (old, new, rest)
        if best is None:
            return None
        _, new, rest = best
        return posixpath.join(new, rest) if rest else new


def stored_location(stored_path: str, project_folder: Path) -> str:
    """Where the project says an image is, before any user's mapping: its
    stored path if absolute on any system, else under the project's folder."""
    if is_absolute_anywhere(stored_path):
        return as_slashed(stored_path)
    return as_slashed(os.path.join(project_folder, stored_path))


NO_IMAGE_ROOTS = ImageRoots()  # every image where the project says: the default of whoever takes roots
