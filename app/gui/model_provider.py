"""Where the window gets its models.  The real detector and classifier live
in core.detection and core.classifier and pull in TensorFlow, so they are
imported here lazily, on the worker thread, the first time a job needs them;
the window appears without waiting for TensorFlow.  Tests and benchmarks
inject fast fakes with `use_models`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from core.inference import CellClassifier, CellDetector


class ModelUnavailable(RuntimeError):
    """No model of the kind asked for can be loaded; the message says why."""


# Where the model packages offer "the current model" (user-trained, else bundled),
# in order of preference: a package-level function, then the loader class.
_ENTRY_POINTS = {
    "detector": (
        ("core.detection", "default_detector"),
        ("core.detection", "load_detector"),
        ("core.detection.detector", "KerasCellDetector.load"),
    ),
    "classifier": (
        ("core.classifier", "default_classifier"),
        ("core.classifier", "load_classifier"),
        ("core.classifier.classifier", "KerasCellClassifier.load"),
    ),
}

_lock = threading.Lock()
_cache: dict[str, Any] = {}
_overrides: dict[str, Callable[[], Any]] = {}


def use_models(
    detector: Callable[[], CellDetector] | None = None, classifier: Callable[[], CellClassifier] | None = None
) -> None:
    """Make default_detector()/default_classifier() return these (tests, benchmarks).
    Passing None for both restores the real models."""
    with _lock:
        _cache.clear()
        _overrides.clear()
        if detector is not None:
            _overrides["detector"] = detector
        if classifier is not None:
            _overrides["classifier"] = classifier


def _load(kind: str, module_name: str) -> Any:
    with _lock:
        if kind in _cache:
            return _cache[kind]
        if kind in _overrides:
            model = _overrides[kind]()
        else:
            model = _load_real(kind, module_name)
        _cache[kind] = model
        return model


def _load_real(kind: str, module_name: str) -> Any:
    try:
        importlib.import_module(module_name)
    except ImportError as error:
        raise ModelUnavailable(
            f"The {kind} is not installed in this build ({module_name} cannot be imported: {error})."
        ) from None
    for module_path, attribute in _ENTRY_POINTS[kind]:
        try:
            loader: Any = importlib.import_module(module_path)
        except ImportError:
            continue
        for part in attribute.split("."):
            loader = getattr(loader, part, None)
        if callable(loader):
            try:
                return loader()
            except Exception as error:  # a missing or mismatched model file, a TF problem
                raise ModelUnavailable(f"The {kind} could not be loaded: {error}") from error
    raise ModelUnavailable(f"{module_name} offers no bundled {kind} yet (no default_{kind}() function).")


def default_detector() -> CellDetector:
    """The current cell detector, loaded once.  Raises ModelUnavailable."""
    return _load("detector", "core.detection")


def default_classifier() -> CellClassifier:
    """The current white-cell classifier, loaded once.  Raises ModelUnavailable."""
    return _load("classifier", "core.classifier")


def forget_loaded_models() -> None:
    """Drop loaded models so the next job loads the current ones (after a promotion)."""
    with _lock:
        _cache.clear()
