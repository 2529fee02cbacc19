"""Choosing a detector's operating thresholds on validation fields, at the
end of training or again later for weights already trained (after changing
how it looks at a field, e.g. adding a second working scale, whose fused
scores are spread differently from one look's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.detection.assess import predict_results
from core.detection.data import GroundTruth
from core.detection.evaluation import ImageResult, choose_thresholds, evaluate
from core.detection.ruler_learning import detector_ruler
from core.jobs import CancelToken, Job, Progress
from core.models.files import ModelCardError
from core.models.resolver import resolve_detector_card

NO_PARTNER = "none"  # retune_detector(partner=NO_PARTNER) removes the second network


def operating_point(results: Sequence[ImageResult]) -> tuple[dict[str, float], dict[str, Any]]:
    """Thresholds chosen on validation results, and the metrics there."""
    thresholds = {name: round(value, 4) for name, value in choose_thresholds(results).items()}
    return thresholds, evaluate(results, thresholds)


def retune_detector(
    model: str | os.PathLike[str] | None,
    val: Sequence[GroundTruth],
    extra_scales: Sequence[float] | None = None,
    out_dir: Path | None = None,
    version: str | None = None,
    cancel: CancelToken | None = None,
    val_summary: Mapping[str, Any] | None = None,
    partner: str | os.PathLike[str] | None = None,
    partner_scales: Sequence[float] | None = None,
    ruler_fields: Sequence[Path] | None = None,
) -> Job[Path]:
    """Re-choose the thresholds of the detector `model` (a card, its weights
    or their folder; None: user-trained, else bundled) on `val`, after setting its extra working
    scales if given.  The card (with a copy of the weights when out_dir is
    another folder) is written to out_dir, by default over the old one.
    val_summary (how the validation fields were chosen) is recorded in the
    card beside the count.  Returns the new card's path; yields progress
    every 16 images.

    partner: another trained detector (card, weights or folder) whose
    network takes the looks at partner_scales (default: the working scale);
    its weights are copied beside the new card.  NO_PARTNER removes the
    card's partner; None keeps it as it is.

    ruler_fields: the training fields to read the red-cell ruler off, as
    this detector, with its looks, draws their red cells
    (core.detection.ruler_learning); None keeps the card's.  It is read
    before the thresholds are chosen, since it decides the scale val fields
    are seen at."""
    from core.detection.detector import KerasCellDetector

    cancel = cancel or CancelToken()
    if not val:
        raise ValueError("no validation images to choose thresholds on")
    card_path = resolve_detector_card(model)
    detector = KerasCellDetector.load(card_path)
    card = detector.card
    previous = {"version": card.version, "extra_scales": list(card.extra_scales), "thresholds": dict(card.thresholds)}
    if card.partner_weights:
        previous["partner"] = {"weights": card.partner_weights, "scales": list(card.partner_scales)}
    if "retuned" in card.training:  # keep the chain: 2 -> 2.1 -> 2.2 ...
        previous["retuned"] = card.training["retuned"]
    if extra_scales is not None:
        card.extra_scales = [float(scale) for scale in extra_scales]
    partner_source = card.check_partner_weights(card_path)  # the card's own, if any
    if partner == NO_PARTNER:
        detector.partner, partner_source = None, None
        card.partner_weights, card.partner_sha256, card.partner_scales = "", "", []
        card.training.pop("partner", None)
    elif partner is not None:
        partner_path = resolve_detector_card(partner)
        other = KerasCellDetector.load(partner_path)  # its own card and checksum checked
        if tuple(other.card.classes) != tuple(card.classes):
            raise ModelCardError(f"{partner_path}: classes {other.card.classes} differ from {card.classes}")
        detector.partner, partner_source = other.model, other.card.weights_path(partner_path)
        card.partner_weights = f"{card_path.stem}-partner.keras"
        card.partner_sha256 = other.card.sha256
        card.partner_scales = [float(other.card.work_scale)]
        card.training["partner"] = {"version": other.version, "config": other.card.training.get("config", {})}
    if partner_scales is not None:
        if partner_source is None:
            raise ModelCardError(f"{card_path}: partner scales given, but the detector has no partner network")
        card.partner_scales = [float(scale) for scale in partner_scales]
    if ruler_fields is not None:
        ruler = yield from detector_ruler(detector, ruler_fields, cancel)
        card.red_cell_range, card.red_cell_median = [ruler.low, ruler.high], ruler.typical
    results: list[ImageResult] = []
    for index, gt in enumerate(val, start=1):
        cancel.raise_if_cancelled()
        results.extend(predict_results(detector, [gt]))
        if index % 16 == 0 or index == len(val):
            yield Progress(index, len(val), f"looked at {index} of {len(val)} validation images")
    card.thresholds, card.metrics["validation"] = operating_point(results)
    if version is not None:
        card.version = version
    card.training["retuned"] = {"from": previous, "val_images": len(results), **dict(val_summary or {})}
    out_dir = Path(out_dir) if out_dir is not None else card_path.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = card.weights_path(card_path)
    if out_dir.resolve() != card_path.parent.resolve():
        shutil.copy2(weights, out_dir / weights.name)
    if partner_source is not None and partner_source.resolve() != (out_dir / card.partner_weights).resolve():
        shutil.copy2(partner_source, out_dir / card.partner_weights)
    new_card = out_dir / card_path.name
    card.save(new_card)
    return new_card
