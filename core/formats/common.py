"""What every format reader produces, and the checks they share."""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.schema import Box, Cell, CellKind, Slide
from core.taxonomy import Taxonomy
from core.wording import counted


class AnnotationError(ValueError):
    """A malformed annotation file: names the file and the line or element."""

    def __init__(self, path: str | os.PathLike[str], where: str, reason: str) -> None:
        location = f"{path}:{where}" if where else str(path)
        super().__init__(f"{location}: {reason}")
        self.path = Path(path)
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LabelledBox:
    """A box from an annotation.  `where` names its entry in the annotation
    file (for messages); `reviewed` is False for a model's unreviewed guess
    carried by a format that says so (CSV); `probabilities` what a model gave."""

    box: Box
    kind: CellKind
    label: str | None = None
    where: str = ""
    reviewed: bool = True
    probabilities: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class AnnotatedImage:
    """One image and the boxes an annotation gives it.  `size` is the image
    size the annotation states, if it states one."""

    path: Path
    boxes: list[LabelledBox] = field(default_factory=list)
    size: tuple[int, int] | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # the annotation file and entry that name this image, for messages
    annotation: Path | None = None  # the annotation file its boxes come from


@dataclass(slots=True)
class ImportPlan:
    images: list[AnnotatedImage]
    format: str
    warnings: list[str] = field(default_factory=list)


# Names annotation files use for the three kinds of cell.
_KIND_NAMES = {
    "wbc": CellKind.WHITE,
    "white": CellKind.WHITE,
    "white cell": CellKind.WHITE,
    "white_cell": CellKind.WHITE,
    "leukocyte": CellKind.WHITE,
    "rbc": CellKind.RED,
    "red": CellKind.RED,
    "red cell": CellKind.RED,
    "red_cell": CellKind.RED,
    "erythrocyte": CellKind.RED,
    "platelets": CellKind.PLATELET,
    "platelet": CellKind.PLATELET,
    "plt": CellKind.PLATELET,
    "thrombocyte": CellKind.PLATELET,
}


def kind_and_label(name: str, taxonomy: Taxonomy) -> tuple[CellKind, str | None] | None:
    """Map an annotation's class name to a cell kind and, where the name is a
    taxonomy class, a label.  None when the name means nothing to us."""
    key = name.strip().lower()
    if key in _KIND_NAMES:
        kind = _KIND_NAMES[key]
        return kind, ("platelet" if kind is CellKind.PLATELET and "platelet" in taxonomy else None)
    label = taxonomy.match(key)
    if label is None:
        return None
    group = taxonomy.get(label).group
    kind = {"red": CellKind.RED, "platelet": CellKind.PLATELET}.get(group, CellKind.WHITE)
    return kind, label


def resolve_inside(root: Path, name: str, annotation: Path, where: str) -> Path:
    """The file an annotation names, refused if it lies outside `root`: an
    annotation must never make us read (or later write) elsewhere."""
    if not name.strip():
        raise AnnotationError(annotation, where, "names no image file")
    check_path_text(name, annotation, where)
    candidate = Path(name.replace("\\", "/"))
    if candidate.is_absolute() or ".." in candidate.parts:
        raise AnnotationError(annotation, where, f"image {name!r} lies outside the imported folder; refused")
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise AnnotationError(annotation, where, f"image {name!r} lies outside the imported folder; refused")
    return resolved


# --------------------------------------------------------------------------- class names

# The names BCCD and TXL-PBC give the three kinds; an unlabelled cell is
# exported under its kind's name, so other tools see the usual three classes.
KIND_EXPORT_NAMES = {CellKind.WHITE: "WBC", CellKind.RED: "RBC", CellKind.PLATELET: "Platelets"}


@dataclass(frozen=True, slots=True)
class UnknownClass:
    """A class name a source uses that the project does not know."""

    name: str
    count: int
    first_seen: str  # "file:entry" of its first use


class ClassResolver:
    """Turns the class names of a source into (kind, label).

    A name is resolved, in order: through the user's mapping (`--map OLD=NEW`),
    through the class table of a HemaLabel export (hemalabel.json, which makes
    round trips exact even where a bare name would be ambiguous), then through
    the taxonomy and the usual kind names (WBC, RBC, Platelets...).  Names left
    over are recorded in `unknown`, so the import can list them and let the
    user map or skip them instead of silently dropping boxes."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        declared: dict[str, tuple[CellKind, str | None]] | None = None,
        mapping: dict[str, str] | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.declared = dict(declared or {})
        self.mapping: dict[str, tuple[CellKind, str | None]] = {}
        for old, new in (mapping or {}).items():
            target = kind_and_label(new, taxonomy)
            if target is None:
                raise ValueError(
                    f"cannot map {old!r} to {new!r}: not a class of this project "
                    f"(classes: {', '.join(taxonomy.names)}, or WBC, RBC, Platelets)"
                )
            self.mapping[old] = target
        self.unknown: dict[str, UnknownClass] = {}

    def resolve(self, name: str, path: str | os.PathLike[str], where: str) -> tuple[CellKind, str | None] | None:
        """(kind, label) for `name`, or None after recording it as unknown."""
        mapped = self.lookup(name)
        if mapped is None:
            self.note_unknown(name, path, where)
        return mapped

    def lookup(self, name: str) -> tuple[CellKind, str | None] | None:
        if name in self.mapping:
            return self.mapping[name]
        if name in self.declared:
            kind, label = self.declared[name]
            return (kind, label) if label is None or label in self.taxonomy else None
        return kind_and_label(name, self.taxonomy)

    def note_unknown(self, name: str, path: str | os.PathLike[str], where: str) -> None:
        seen = self.unknown.get(name)
        location = f"{path}:{where}" if where else str(path)
        self.unknown[name] = (
            UnknownClass(name, 1, location) if seen is None else UnknownClass(name, seen.count + 1, seen.first_seen)
        )

    def unknown_warnings(self) -> list[str]:
        return [
            f"skipped {counted(item.count, 'box', 'boxes')} of unknown class {item.name!r} (first at {item.first_seen})"
            for item in sorted(self.unknown.values(), key=lambda item: item.name)
        ]


def export_class_name(kind: CellKind, label: str | None, taxonomy: Taxonomy, taken: set[str]) -> str:
    """The class name a cell is exported under: its label where the label
    belongs to the cell's kind, its kind's usual name when it has no label,
    and `label_kind` for the odd combination.  Unique against `taken`
    ignoring case, since class names become folder names on Windows and macOS."""
    if label is None:
        base = KIND_EXPORT_NAMES[kind]
    else:
        group = taxonomy.get(label).group if label in taxonomy else "white"
        natural = {"red": CellKind.RED, "platelet": CellKind.PLATELET}.get(group, CellKind.WHITE)
        base = label if natural is kind else f"{label}_{kind.value}"
    name, counter = base, 2
    lowered = {item.lower() for item in taken}
    while name.lower() in lowered:
        name, counter = f"{base}_{counter}", counter + 1
    return name


# --------------------------------------------------------------------------- manifest

MANIFEST_NAME = "hemalabel.json"
MANIFEST_VERSION = 1


@dataclass(slots=True)
class Manifest:
    """What a HemaLabel export says about itself: its format, the class table
    (exported name -> kind and label), the split and crop settings."""

    format: str
    classes: dict[str, tuple[CellKind, str | None]]
    options: dict[str, Any] = field(default_factory=dict)


def read_manifest(root: Path) -> Manifest | None:
    path = root / MANIFEST_NAME
    if not path.is_file():
        return None
    data = load_json(path)
    if not isinstance(data, dict) or "hemalabel_export" not in data:
        return None  # someone else's file of the same name
    classes: dict[str, tuple[CellKind, str | None]] = {}
    entries = data.get("classes")
    if not isinstance(entries, list):
        raise AnnotationError(path, "classes", "expected a list of classes")
    for index, entry in enumerate(entries):
        where = f"classes[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise AnnotationError(path, where, "expected an object with a 'name'")
        try:
            kind = CellKind(entry.get("kind"))
        except ValueError:
            raise AnnotationError(path, where, f"unknown kind {entry.get('kind')!r}") from None
        label = entry.get("label")
        if label is not None and not isinstance(label, str):
            raise AnnotationError(path, where, "label must be a string or null")
        if entry["name"] in classes:
            raise AnnotationError(path, where, f"duplicate class name {entry['name']!r}")
        classes[entry["name"]] = (kind, label)
    options = data.get("options")
    if not isinstance(options, dict):
        options = {}
    return Manifest(format=str(data.get("format", "")), classes=classes, options=options)


def load_json(path: Path) -> Any:
    """A JSON file, or AnnotationError naming the line and column of the fault.
    Nesting too deep for the parser, and integers too long to convert, are
    refused as malformed rather than escaping as RecursionError or ValueError."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(path, f"line {error.lineno} column {error.colno}",
                              f"malformed JSON: {error.msg}") from None
    except RecursionError:
        raise AnnotationError(path, "", "malformed JSON: nested too deeply to read") from None
    except (ValueError, OverflowError) as error:  # e.g. an integer of thousands of digits
        raise AnnotationError(path, "", f"malformed JSON: {error}") from None


# --------------------------------------------------------------------------- hostile input
#
# Every reader goes through these, so that whatever a file holds (another
# encoding, a NUL, nan, 1e308) ends as one AnnotationError naming the file
# and line, never as a traceback from deeper down.

# Spreadsheets (Excel on Windows above all) save CSV in the Windows code page.
SPREADSHEET_ENCODING = "cp1252"
# No microscope field or scan comes near this many pixels a side; larger
# coordinates or sizes are damage, and would overflow the arithmetic on boxes.
MAX_PIXELS = 10_000_000.0


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AnnotationError(path, "", f"cannot read ({error.strerror or error})") from None


def decode_text(data: bytes, path: Path, spreadsheet: bool = False) -> str:
    """UTF-8 text (a byte-order mark dropped).  A spreadsheet's file
    (spreadsheet=True) that is not UTF-8 is read in the Windows code page,
    as Excel saves CSV there.  Otherwise AnnotationError names the line."""
    if spreadsheet and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:  # Excel's "Unicode text"
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise AnnotationError(path, "",
                                  f"not UTF-16 text as its byte-order mark says (byte {error.start})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        failure = error
    if spreadsheet:
        try:
            return data.decode(SPREADSHEET_ENCODING)
        except UnicodeDecodeError:
            pass
    line = data[: failure.start].count(b"\n") + 1
    also = f" (nor {SPREADSHEET_ENCODING}, as spreadsheets save it)" if spreadsheet else ""
    raise AnnotationError(path, f"line {line}",
                          f"not UTF-8 text{also}: byte {data[failure.start]:#04x}; save it as UTF-8")


def read_text(path: Path, spreadsheet: bool = False) -> str:
    """A text file decoded as decode_text does; AnnotationError if it cannot be read."""
    return decode_text(read_bytes(path), path, spreadsheet)


def parse_number(text: str, path: str | os.PathLike[str], where: str, limit: float = MAX_PIXELS) -> float:
    """A finite number no larger than `limit` either way, or AnnotationError
    naming file and entry: nan, inf and 1e308 are damage, not coordinates."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        raise AnnotationError(path, where, f"expected a number, found {text!r}") from None
    return check_number(value, path, where, limit)


def check_number(value: Any, path: str | os.PathLike[str], where: str, limit: float = MAX_PIXELS) -> float:
    """`value` (an int or float, as JSON gives) as a finite float within `limit`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnnotationError(path, where, f"expected a number, found {value!r}")
    if isinstance(value, int):
        if abs(value) > limit:
            raise AnnotationError(path, where, f"number {_short(value)} is out of range (at most {limit:g})")
        return float(value)
    if not math.isfinite(value):
        raise AnnotationError(path, where, f"expected a finite number, found {value!r}")
    if abs(value) > limit:
        raise AnnotationError(path, where, f"number {value!r} is out of range (at most {limit:g})")
    return value


def check_size(value: Any, path: str | os.PathLike[str], where: str) -> int:
    """An image width or height an annotation states: whole pixels, 0 to
    MAX_PIXELS (some tools write 0 for unknown; the import only compares it)."""
    number = check_number(value, path, where)
    if number < 0:
        raise AnnotationError(path, where, f"image size must not be negative, found {_short(value)}")
    return int(number)


def check_path_text(name: str, path: str | os.PathLike[str], where: str) -> str:
    """A file name from an annotation that the file system can be asked about:
    a NUL or a lone surrogate would escape as ValueError from deep in os."""
    if "\x00" in name:
        raise AnnotationError(path, where, f"file name {name!r} holds a NUL character; refused")
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        raise AnnotationError(path, where, f"file name {name!r} is not valid text; refused") from None
    # No common file system takes a longer name (255 bytes) or path; asking
    # about one fails with an OSError instead of "not found".
    parts = encoded.replace(b"\\", b"/").split(b"/")
    if len(encoded) > _MAX_PATH_BYTES or any(len(part) > _MAX_NAME_BYTES for part in parts):
        raise AnnotationError(path, where, f"file name {_short(name)} is longer than any file system takes; refused")
    return name


_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 4096


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer too long to convert to text
        return "a number of thousands of digits"
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


# --------------------------------------------------------------------------- writing

def atomic_write_bytes(path: Path, data: bytes, durable: bool = False) -> None:
    """Write to a temporary name in the same folder, then rename: a reader (or
    a crash) never sees half a file, and an old file stays whole until the
    new one is complete.  durable: on disk (fsync) before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _new_temporary(path)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not error.filename:
            raise _naming(error, path) from error
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _new_temporary(target)
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not error.filename:
            raise _naming(error, target) from error
        raise


def _naming(error: OSError, path: Path) -> OSError:
    """The error with the file it was writing: a failed write (a full disk)
    names none, and the person must be told which."""
    return type(error)(error.errno, error.strerror or str(error), str(path))


def _new_temporary(target: Path) -> tuple[int, Path]:
    """A new empty file beside `target`, with the permissions any new file
    gets (0o666 less the umask).  tempfile.mkstemp makes it 0o600, and the
    rename kept that: exported datasets and reports were readable by their
    owner alone, not by the colleague or the training server they are for."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)  # no newline translation on Windows
    for _ in range(100):
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: cannot find a free temporary name for {target.name}")


def format_number(value: float) -> str:
    """The shortest text that reads back as exactly this float; integers
    without a decimal point, as VOC tools expect."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


# --------------------------------------------------------------------------- export plan

@dataclass(slots=True)
class ExportImage:
    """One slide as an export writes it: where its pixels are, the unique
    file name it gets in the dataset, its split, and its cells with the class
    name each is exported under."""

    slide: Slide
    source: Path
    file_name: str
    split: str | None
    cells: list[tuple[Cell, str]]


@dataclass(slots=True)
class ExportPlan:
    images: list[ExportImage]
    classes: list[tuple[str, CellKind, str | None]]  # in order: the YOLO / COCO index
    splits: list[str]  # the splits used, in order; empty when not split
    copy_images: bool = True
    crop_margin: float = 0.15
    crop_size: int | None = None
    crop_format: str = "png"

    @property
    def class_names(self) -> list[str]:
        return [name for name, _, _ in self.classes]

    @property
    def cell_count(self) -> int:
        return sum(len(image.cells) for image in self.images)


def check_count(path: Path, where: str, values: list[Any], expected: int) -> None:
    if len(values) != expected:
        raise AnnotationError(path, where, f"expected {expected} values, found {len(values)}")
