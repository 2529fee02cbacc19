"""The model registry: which versions of a model exist (the classifier's,
or the detector's in a registry of their own), which one is in use, and the
history that makes Roll back a single step.

Registered models live in the user's models folder (core.resources.
user_models_dir()), each as <name>.keras with its card <name>.json, beside a
registry.json that records status, parent, counts and the comparison made
when the version was trained.  The bundled model is never written: it is the
current model until a retrained version is promoted, and the root of every
version's lineage.  The detector's versions keep their own registry file
beside the classifier's (DETECTOR), so promoting one never changes the other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.finite_json import strict_dumps
from core.formats.common import atomic_write_text
from core.models.classifier_card import card_path_for, read_card
from core.models.files import ModelCardError
from core.resources import bundled_models_dir, user_models_dir
from core.wording import json_error_place

REGISTRY_FILE = "registry.json"
REGISTRY_FORMAT = 1
BUNDLED_DEFAULT = "hemalabel-wbc"
STATUSES = ("bundled", "candidate", "promoted", "retired", "discarded")


@dataclass(frozen=True, slots=True)
class RegistryKind:
    """Which model a registry holds: its file, and the bundled model at the
    root of its versions."""

    kind: str  # core.models.kinds.CardKind
    file: str
    bundled_name: str


CLASSIFIER = RegistryKind("classifier", REGISTRY_FILE, BUNDLED_DEFAULT)
DETECTOR = RegistryKind("detector", "detector-registry.json", "cell-detector")


class RegistryError(ValueError):
    """A registry request that cannot be carried out, with the reason."""


@dataclass(slots=True)
class ModelVersion:
    name: str
    path: Path
    status: str
    parent: str | None = None
    created_at: str = ""
    trained_on: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    is_current: bool = False
    # How long its fine-tune took, start to scores (None: not recorded, as
    # for versions trained before it was): a discard asks naming it.
    train_seconds: float | None = None


def lineage_root(name: str) -> str:
    """hemalabel-wbc-r3 -> hemalabel-wbc: retrained versions are numbered
    after the model they all descend from."""
    return re.sub(r"-r\d+$", "", name)


class ModelRegistry:
    """Reads registry.json afresh on every call, so the GUI and a command
    line run side by side see each other's promotions."""

    def __init__(self, folder: Path | None = None, kind: RegistryKind = CLASSIFIER) -> None:
        self.folder = Path(folder) if folder is not None else user_models_dir()
        self.kind = kind

    # -- reading -----------------------------------------------------------
    @property
    def file(self) -> Path:
        return self.folder / self.kind.file

    @property
    def bundled_name(self) -> str:
        return self.kind.bundled_name

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"format": REGISTRY_FORMAT, "current": None, "previous": [], "versions": []}
        except json.JSONDecodeError as error:
            raise RegistryError(f"{self.file}: model registry is not valid JSON ({json_error_place(error)})") from None
        if not isinstance(data, dict) or not isinstance(data.get("versions"), list):
            raise RegistryError(f"{self.file}: not a HemaLabel model registry")
        data.setdefault("current", None)
        data.setdefault("previous", [])
        return data

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.file, strict_dumps(data) + "\n")  # scores with no value (NaN) as null

    def bundled(self) -> ModelVersion:
        """The model shipped in models/, described by its card: the cells of
        each class it was trained on, and its figures on the validation split
        (there is no held-out project for it, as a retrained version has)."""
        if self.kind.kind == "detector":
            return _bundled_detector(self.kind.bundled_name)
        path = bundled_models_dir() / f"{BUNDLED_DEFAULT}.keras"
        try:
            card = read_card(card_path_for(path))
        except ModelCardError:
            # Reported by the loader when someone loads it.
            return ModelVersion(BUNDLED_DEFAULT, path, "bundled")
        trained_on: Counter[str] = Counter()
        for source in card.training_data.get("sources", []):
            trained_on.update(source.get("train_classes", {}))
        metrics = {key: value for key, value in card.metrics.items() if key != "history"}
        return ModelVersion(
            BUNDLED_DEFAULT, path, "bundled", None, card.created_at, dict(sorted(trained_on.items())), metrics
        )

    def _version(self, entry: dict[str, Any], current: str | None) -> ModelVersion:
        return ModelVersion(
            name=entry["name"],
            path=self.folder / f"{entry['name']}.keras",
            status=entry.get("status", "candidate"),
            parent=entry.get("parent"),
            created_at=entry.get("created_at", ""),
            trained_on=dict(entry.get("trained_on", {})),
            metrics=dict(entry.get("metrics", {})),
            is_current=entry["name"] == current,
            train_seconds=entry.get("train_seconds"),
        )

    def versions(self) -> list[ModelVersion]:
        """The bundled model, then every registered version that still has
        its files, oldest first."""
        data = self._read()
        bundled = self.bundled()
        bundled.is_current = data["current"] is None
        listed = [self._version(e, data["current"]) for e in data["versions"] if e.get("status") != "discarded"]
        return [bundled, *listed]

    def current(self) -> ModelVersion:
        data = self._read()
        if data["current"] is None:
            bundled = self.bundled()
            bundled.is_current = True
            return bundled
        return self.get(data["current"])

    def get(self, name: str) -> ModelVersion:
        data = self._read()
        if name == self.bundled_name:
            bundled = self.bundled()
            bundled.is_current = data["current"] is None
            return bundled
        for entry in data["versions"]:
            if entry["name"] == name and entry.get("status") != "discarded":
                return self._version(entry, data["current"])
        known = ", ".join(v.name for v in self.versions())
        raise RegistryError(f"no model version {name!r} in {self.file}; known versions: {known}")

    # -- changing ----------------------------------------------------------
    def next_name(self, parent: str) -> str:
        """A name never used before in this registry, discarded ones included."""
        root = lineage_root(parent)
        used = [
            int(m.group(1))
            for e in self._read()["versions"]
            if (m := re.fullmatch(re.escape(root) + r"-r(\d+)", e["name"]))
        ]
        return f"{root}-r{max(used, default=0) + 1}"

    def register_candidate(self, name: str, parent: str, created_at: str, trained_on: dict[str, int],
                           metrics: dict[str, Any], train_seconds: float | None = None) -> ModelVersion:
        """Record a candidate whose files are already in place as <name>.keras/.json
        (`train_seconds`: how long its training took)."""
        if not (self.folder / f"{name}.keras").is_file():
            raise RegistryError(f"{self.folder / (name + '.keras')}: candidate weights not found")
        data = self._read()
        data["versions"] = [e for e in data["versions"] if e["name"] != name]
        entry: dict[str, Any] = {"name": name, "status": "candidate", "parent": parent, "created_at": created_at,
                 "trained_on": trained_on, "metrics": metrics}
        if train_seconds is not None:
            entry["train_seconds"] = round(float(train_seconds), 1)
        data["versions"].append(entry)
        self._write(data)
        return self.get(name)

    def promote(self, name: str) -> ModelVersion:
        """Make `name` the model the app and commands use by default."""
        data = self._read()
        if name == self.bundled_name:
            if data["current"] is not None:
                data["previous"].append(data["current"])
                self._set_status(data, data["current"], "retired")
            data["current"] = None
            self._write(data)
            return self.current()
        entry = self._entry(data, name)
        if not (self.folder / f"{name}.keras").is_file():
            raise RegistryError(f"{self.folder / (name + '.keras')}: weights of {name} are missing; cannot promote")
        if data["current"] == name:
            return self.get(name)
        data["previous"].append(data["current"])
        if data["current"] is not None:
            self._set_status(data, data["current"], "retired")
        entry["status"] = "promoted"
        data["current"] = name
        self._write(data)
        return self.get(name)

    def discard(self, name: str) -> None:
        """Delete a version's files and mark it discarded.  The current and
        the bundled model cannot be discarded."""
        data = self._read()
        if name == self.bundled_name:
            raise RegistryError(f"{name} is the bundled model; it is never deleted")
        entry = self._entry(data, name)
        if data["current"] == name:
            raise RegistryError(f"{name} is the model in use; roll back or promote another first")
        for suffix in (".keras", ".json"):
            (self.folder / f"{name}{suffix}").unlink(missing_ok=True)
        entry["status"] = "discarded"
        data["previous"] = [p for p in data["previous"] if p != name]
        self._write(data)

    def rollback(self) -> ModelVersion:
        """The version in use before the current one becomes current again."""
        data = self._read()
        if data["current"] is None and not data["previous"]:
            raise RegistryError(
                "the bundled model is in use and nothing was promoted before it; nothing to roll back to"
            )
        if not data["previous"]:
            data["previous"] = [None]
        leaving = data["current"]
        target = data["previous"].pop()
        if leaving is not None:
            self._set_status(data, leaving, "retired")
        if target is not None:
            self._set_status(data, target, "promoted")
        data["current"] = target
        self._write(data)
        return self.current()

    def _entry(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        for entry in data["versions"]:
            if entry["name"] == name and entry.get("status") != "discarded":
                found: dict[str, Any] = entry
                return found
        known = ", ".join(v.name for v in self.versions())
        raise RegistryError(f"no model version {name!r} in {self.file}; known versions: {known}")

    @staticmethod
    def _set_status(data: dict[str, Any], name: str, status: str) -> None:
        for entry in data["versions"]:
            if entry["name"] == name:
                entry["status"] = status


def _bundled_detector(name: str) -> ModelVersion:
    """The shipped detector, described by its card: the boxes of each kind
    it was trained on and its figures on the validation fields."""
    from core.models.detector_card import DetectorCard

    card_path = bundled_models_dir() / f"{name}.json"
    try:
        card = DetectorCard.load(card_path)
    except ModelCardError:
        return ModelVersion(name, card_path.with_suffix(".keras"), "bundled")
    trained_on = {str(k): int(v) for k, v in card.training.get("data", {}).get("train_boxes", {}).items()}
    metrics = {key: value for key, value in card.metrics.items() if key != "history"}
    return ModelVersion(name, card_path.with_name(card.weights), "bundled", None, "", trained_on, metrics)


def detector_registry(folder: Path | None = None) -> ModelRegistry:
    """The registry of the cell detector's versions."""
    return ModelRegistry(folder, DETECTOR)
