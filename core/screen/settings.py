"""The project's lymphoid-screen setting, kept in the project file: whether
the window screens when it classifies, which white cells, and the operating
point (None: the screen model card's own)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from core.store import ProjectStore, StoreError

META_KEY = "lymphoid_screen"


@dataclass(frozen=True, slots=True)
class ScreenSettings:
    on: bool = False
    all_white: bool = False  # every white cell, not only lymphocytes, monocytes and Unidentified
    operating_point: float | None = None  # P(blast) a suspected cell reaches; None: the card's

    def threshold(self, card_threshold: float) -> float:
        return card_threshold if self.operating_point is None else self.operating_point


def load_screen_settings(store: ProjectStore) -> ScreenSettings:
    """The project's setting (off when never set); StoreError naming the file when it is damaged."""
    text = store.get_meta(META_KEY)
    if text is None:
        return ScreenSettings()
    try:
        data: Any = json.loads(text)
        settings = ScreenSettings(on=bool(data["on"]), all_white=bool(data["all_white"]),
                                  operating_point=None if data["operating_point"] is None
                                  else float(data["operating_point"]))
    except (ValueError, TypeError, KeyError) as error:
        raise StoreError(f"{store.path}: the lymphoid screen setting is damaged ({error}); "
                         "set it again in Project settings") from None
    _check(store, settings)
    return settings


def save_screen_settings(store: ProjectStore, settings: ScreenSettings) -> None:
    _check(store, settings)
    store.set_meta(META_KEY, json.dumps(asdict(settings)))


def _check(store: ProjectStore, settings: ScreenSettings) -> None:
    point = settings.operating_point
    if point is not None and not 0.0 < point < 1.0:
        raise StoreError(f"{store.path}: the screen's operating point must lie between 0 and 1, not {point}")
