"""The class list a project labels with: names, hotkeys, colours, groups."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from core.resources import resource_path
from core.wording import json_error_place

UNIDENTIFIED = "unidentified"
BLAST = "blast"  # what a confirmed flag of the lymphoid screen makes a cell
GROUPS = ("white", "red", "platelet", "other")
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")


class TaxonomyError(ValueError):
    """A taxonomy file or definition that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class TaxonomyClass:
    name: str
    display: str
    key: str
    colour: str
    group: str
    differential: bool

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> TaxonomyClass:
        try:
            item = cls(
                name=str(data["name"]),
                display=str(data.get("display") or data["name"]),
                key=str(data.get("key", "")),
                colour=str(data.get("colour", "#808080")),
                group=str(data.get("group", "white")),
                differential=bool(data.get("differential", False)),
            )
        except KeyError as missing:
            raise TaxonomyError(f"{where}: class entry lacks {missing}") from None
        if not _NAME_PATTERN.match(item.name):
            raise TaxonomyError(f"{where}: class name {item.name!r} must be lower-case letters, digits or _")
        if not _COLOUR_PATTERN.match(item.colour):
            raise TaxonomyError(f"{where}: class {item.name!r} has colour {item.colour!r}, expected #rrggbb")
        if item.group not in GROUPS:
            raise TaxonomyError(f"{where}: class {item.name!r} has group {item.group!r}, expected one of {GROUPS}")
        if len(item.key) > 1:
            raise TaxonomyError(f"{where}: class {item.name!r} hotkey {item.key!r} must be one character")
        return item


@dataclass(frozen=True)
class Taxonomy:
    name: str
    classes: tuple[TaxonomyClass, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise TaxonomyError(f"taxonomy {self.name!r} repeats a class name: {names}")
        keys = [c.key for c in self.classes if c.key]
        if len(set(keys)) != len(keys):
            raise TaxonomyError(f"taxonomy {self.name!r} gives one hotkey to two classes: {keys}")
        if UNIDENTIFIED not in names:
            raise TaxonomyError(f"taxonomy {self.name!r} must include the class {UNIDENTIFIED!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @cached_property
    def _by_name(self) -> dict[str, TaxonomyClass]:
        # Looked up for every cell a count or the gallery places (50,000 for
        # a big project); not a field, so equality and hashing ignore it.
        return {c.name: c for c in self.classes}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    def get(self, name: str) -> TaxonomyClass:
        item = self._by_name.get(name)
        if item is not None:
            return item
        raise KeyError(f"no class {name!r} in taxonomy {self.name!r} (classes: {', '.join(self.names)})")

    def display_of(self, name: str) -> str:
        """How the window names a class ("Immature granulocyte" for "ig"); a
        name the taxonomy lacks (a model's output it does not list) as it is."""
        return self.get(name).display if name in self else name

    def by_key(self, key: str) -> TaxonomyClass | None:
        for item in self.classes:
            if item.key and item.key == key:
                return item
        return None

    def match(self, text: str) -> str | None:
        """The class whose name or display name equals `text`, ignoring case."""
        wanted = text.strip().lower()
        for item in self.classes:
            if wanted in (item.name, item.display.lower()):
                return item.name
        return None

    def differential_classes(self) -> list[str]:
        return [c.name for c in self.classes if c.differential]

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "classes": [asdict(c) for c in self.classes]}, indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "taxonomy") -> Taxonomy:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise TaxonomyError(f"{where}: not valid JSON at {json_error_place(error)}") from None
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            raise TaxonomyError(f"{where}: expected an object with a 'classes' list")
        classes = tuple(
            TaxonomyClass.from_dict(entry, f"{where} class #{index + 1}")
            for index, entry in enumerate(data["classes"])
        )
        return cls(name=str(data.get("name", "taxonomy")), classes=classes)

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        return cls.from_json(Path(path).read_text(encoding="utf-8"), where=str(path))


def default_taxonomy() -> Taxonomy:
    """The eight PBC classes plus Unidentified, from resources/."""
    return Taxonomy.load(resource_path("taxonomy.json"))


def with_blast(taxonomy: Taxonomy) -> Taxonomy:
    """The taxonomy with a Blast class (white, counted in the differential),
    on the first free digit key; the same taxonomy when it has one."""
    if BLAST in taxonomy:
        return taxonomy
    used = {c.key for c in taxonomy.classes}
    key = next((digit for digit in "9876543210" if digit not in used), "")
    blast = TaxonomyClass(BLAST, "Blast", key, "#17becf", "white", True)
    return Taxonomy(taxonomy.name, (*taxonomy.classes, blast))
