"""What a retrain is asked to do: the knobs the Retrain dialog and
`hemalabel train --project` expose."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True)
class RetrainSettings:
    base: str | None = None  # model to fine-tune; None: the one in use
    # Its original training data: the training config it was made with (its
    # train split, never its test split), a PBC root or a class-folder tree.
    replay_path: str | None = None  # None: the replay set shipped with the app (resources/replay/hemalabel-wbc)
    replay_per_class: int = 150  # 0: no replay, the project's queue only
    standard_set: str | None = None  # class-folder tree or .hemalabel project of reviewed cells
    # Class-folder trees (replay or standard set) hold single-cell images:
    # "auto" finds each image's cell (core.locating), "off" takes it whole.
    locate: str = "auto"
    epochs: int = 15
    max_minutes: float = 3.0  # budget of all the fits together; each one's schedule runs on wall time
    learning_rate: float = 1e-3
    # The reviewed cells are scored out of fold (folds grouped by slide),
    # then every one of them trains the candidate.
    folds: int = 3
    min_examples: int = 20
    min_new_class_cells: int = 10
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def check(self) -> None:
        """Refuse settings no retrain could honour, naming the setting."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes must be 0 (no limit) or more, not {self.max_minutes}")
        if not 2 <= self.folds <= 10:
            raise ValueError(f"folds must be between 2 and 10, not {self.folds}")
        if self.min_examples < 1 or self.min_new_class_cells < 1 or self.replay_per_class < 0:
            raise ValueError("min_examples and min_new_class_cells must be at least 1, replay_per_class at least 0")
        if self.locate not in ("auto", "off"):
            raise ValueError(f"locate must be auto or off, not {self.locate!r}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate must be between 0 and 1, not {self.learning_rate}")


@dataclass(slots=True)
class DetectorRetrainSettings:
    """What a detector fine-tune is asked to do: the Retrain dialog's
    detector settings and `hemalabel train-detector --project`'s options."""

    base: str | None = None  # detector card to fine-tune; None: the one in use
    # A folder holding txl-pbc/ and bccd/, the bundled detector's training
    # sources, for the replay; None: the data folder beside the app when it
    # is there (core.detection.replay_fields.default_replay_root).
    replay_root: str | None = None
    replay_fields: int = 40  # 0: no replay, the project's fields only
    check_fields: int = 8  # original validation fields both detectors are scored on: what the fine-tune forgot
    max_minutes: float = 4.0  # the whole run: reading, fine-tune and comparison
    epochs: int = 60  # at most; the time budget usually ends the fine-tune first
    batch_size: int = 8
    learning_rate: float = 5e-4
    held_out_share: float = 0.25  # of the reviewed fields, by slide, kept for the comparison
    min_fields: int = 3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> None:
        """Refuse settings no fine-tune could honour, naming the setting."""
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, not {self.epochs} and {self.batch_size}")
        if self.max_minutes < 0:
            raise ValueError(f"max_minutes must be 0 (no limit) or more, not {self.max_minutes}")
        if not 0.0 < self.held_out_share < 1.0:
            raise ValueError(f"held_out_share must be between 0 and 1, not {self.held_out_share}")
        if self.min_fields < 2:
            raise ValueError(f"min_fields must be at least 2 (one to learn from, one to compare on), not "
                             f"{self.min_fields}")
        if self.replay_fields < 0 or self.check_fields < 0:
            raise ValueError("replay_fields and check_fields must be 0 or more")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate must be between 0 and 1, not {self.learning_rate}")
