"""Where the window gets its models.  The real detector and classifier live
in core.detection and core.classifier and pull in TensorFlow, so they are
imported here lazily, on the worker thread, the first time a job needs them;
the window appears without waiting for TensorFlow.  Tests and benchmarks
inject fast fakes with `use_models`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from core.inference import CellClassifier, CellDetector


class ModelUnavailable(RuntimeError):
    """No model of the kind asked for can be loaded; the message says why."""


_lock = threading.Lock()
_cache: dict[str, Any] = {}
_overrides: dict[str, Callable[[], Any]] = {}


def use_models(
    detector: Callable[[], CellDetector] | None = None,
    classifier: Callable[[], CellClassifier] | None = None,
    screen: Callable[[], Any] | None = None,
) -> None:
    """Make default_detector()/default_classifier()/screen_model() return
    these (tests, benchmarks).  Passing None for all restores the real models."""
    with _lock:
        _cache.clear()
        _overrides.clear()
        if detector is not None:
            _overrides["detector"] = detector
        if classifier is not None:
            _overrides["classifier"] = classifier
        if screen is not None:
            _overrides["lymphoid screen model"] = screen


def _load(kind: str, loader: Callable[[], Any]) -> Any:
    with _lock:
        if kind not in _cache:
            make = _overrides.get(kind, loader)
            try:
                _cache[kind] = make()
            except ModelUnavailable:
                raise
            except Exception as error:  # a missing or mismatched model file, a TF problem
                raise ModelUnavailable(f"The {kind} could not be loaded: {error}") from error
        return _cache[kind]


def _load_detector() -> CellDetector:
    from core.detection.detector import KerasCellDetector

    return KerasCellDetector.load()


def _load_classifier() -> CellClassifier:
    from core.classifier import load_classifier

    return load_classifier()


def _load_screen_model() -> Any:
    from core.screen.model import load_screen_model

    return load_screen_model()


def screen_model() -> Any:
    """The optional lymphoid screen model (core.screen.model.ScreenModel),
    loaded once.  Raises ModelUnavailable with the reason (it is optional:
    models/lymphoid-screen.keras may be absent)."""
    return _load("lymphoid screen model", _load_screen_model)


def default_detector() -> CellDetector:
    """The current cell detector (user-trained, else bundled), loaded once.
    Raises ModelUnavailable with the reason."""
    return _load("detector", _load_detector)


def default_classifier() -> CellClassifier:
    """The current white-cell classifier (a promoted one, else bundled),
    loaded once.  Raises ModelUnavailable with the reason."""
    return _load("classifier", _load_classifier)


def warm_up() -> None:
    """Import TensorFlow and Keras (on a worker thread) so the first Detect
    or Classify does not.  Their extension modules initialise while holding
    the interpreter lock: measured here, an import on a worker stalls the
    window for up to 0.47 s at a time, which belongs right after start-up,
    not in the middle of a review.  Nothing to do when fakes are in use."""
    with _lock:
        if _overrides:
            return
    import keras  # noqa: F401  (pulls in TensorFlow)


def forget_loaded_models() -> None:
    """Drop loaded models so the next job loads the current ones (after a promotion)."""
    with _lock:
        _cache.clear()
