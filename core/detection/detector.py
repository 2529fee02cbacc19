"""The bundled cell detector behind core.inference.CellDetector.

Loading checks the card against the weights and loads the Keras file with
safe_mode on.  detect() shrinks the image to the working scale, runs the
network over it whole or in overlapping tiles, decodes peaks to boxes,
applies NMS, fuses the looks at the card's extra scales and those of a
second network if it names any, applies the per-class operating
thresholds, and scales back.  Before that the image's scale is judged by
its red cells (core.detection.magnification) when the card knows the red
cells' learnt size, and an image imaged at another magnification is looked
at resized to the learnt one.  detect_bands() does the same over a scan
read in bands of rows (core.image_bands), holding one row of tiles.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.detection.decode import decode_head
from core.detection.familiarity import FamiliarityReference
from core.detection.fusion import fuse_detections
from core.detection.magnification import Magnification, RedRuler, estimate_magnification
from core.detection.scale import pad_to_multiple, to_work_scale
from core.detection.targets import CLASSES
from core.detection.tiling import BandWindow, Detections, detect_tiled_rows
from core.inference import Detection
from core.models.detector_card import DetectorCard
from core.models.files import ModelCardError
from core.models.resolver import resolve_detector_card
from core.schema import Box, CellKind

_KINDS = (CellKind.WHITE, CellKind.RED, CellKind.PLATELET)
# Below this many image pixels on a side there is no room for a cell.
_MIN_SIDE = 8
# A probe for the red cells' size (core.detection.magnification) looks at
# the middle of the image, at most this many pixels a side once resized,
# so that probing a large image at 4x costs about one field's look.
PROBE_SIDE = 640


def _empty() -> Detections:
    return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)


class KerasCellDetector:
    """A CellDetector backed by the Keras CenterNet and its card."""

    def __init__(self, model: Any, card: DetectorCard, partner: Any = None) -> None:
        """partner: the second network the card's partner_scales look with
        (None: those looks are skipped, as for a card that names none)."""
        self.model = model
        self.partner = partner
        self.card = card
        self.version = f"{card.name}-{card.version}"
        # The training fields' colours, by which a field's proposals are
        # judged (core.detection.familiarity); None: the card has none.
        self.familiarity = FamiliarityReference.from_card(card.familiarity)
        self._lock = threading.Lock()
        self._forwards: dict[int, Callable[[NDArray[Any]], Any]] = {}  # traced: they return tensors

    @classmethod
    def load(cls, card_path: str | os.PathLike[str] | None = None) -> KerasCellDetector:
        """Load a detector from its card (see core.models.resolver.
        resolve_detector_card for the default); ModelCardError if card and weights disagree."""
        path = resolve_detector_card(card_path)
        card = DetectorCard.load(path)
        if tuple(card.classes) != CLASSES:
            raise ModelCardError(f"{path}: classes {card.classes} are not the detector's {list(CLASSES)}")
        weights = card.check_weights(path)
        partner_weights = card.check_partner_weights(path)
        try:
            FamiliarityReference.from_card(card.familiarity)
        except ValueError as error:  # before the weights, which take seconds
            raise ModelCardError(f"{path}: {error}") from None
        model = _load_keras(weights)
        partner = _load_keras(partner_weights) if partner_weights is not None else None
        return cls(model, card, partner)

    # -- the network -------------------------------------------------------

    def head(self, work_image: NDArray[Any], model: Any = None) -> NDArray[Any]:
        """Raw stride-4 output of `model` (default: the card's own network)
        for a working-scale image whose sides are multiples of 32."""
        out: NDArray[Any] = self.heads(work_image[None], model)[0]
        return out

    def heads(self, work_images: NDArray[Any], model: Any = None) -> NDArray[Any]:
        """head() of a batch of working-scale images of one shape (N x H x W x 3)."""
        model = self.model if model is None else model
        with self._lock:
            # Keyed by the network object; the detector holds both networks
            # for its lifetime, so an id is never reused while cached.
            forward = self._forwards.get(id(model))
            if forward is None:
                import tensorflow as tf

                # One trace for every input size: no retracing per tile shape.
                forward = self._forwards[id(model)] = tf.function(
                    lambda x: model(x, training=False),
                    input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                    autograph=False,  # plain graph code; nothing to convert
                )
        out: NDArray[Any] = forward(work_images.astype(np.float32)).numpy()
        return out

    def looks(self) -> list[tuple[Any, float]]:
        """(network, working scale) of every look at a tile: the card's own
        network at work_scale and extra_scales, then the partner's."""
        own = [(self.model, scale) for scale in (self.card.work_scale, *self.card.extra_scales)]
        partner = [(self.partner, scale) for scale in self.card.partner_scales] if self.partner is not None else []
        return own + partner

    def _detect_tile(self, tile: NDArray[Any], min_score: float, factor: float = 1.0) -> Detections:
        """Detections on one tile at image scale, in its image pixels, from
        one look or fused from several (see looks()); factor: the tile is
        looked at as if resized by it first (the image's magnification)."""
        looks = [(model, scale * factor) for model, scale in self.looks()]
        # A cell that only one of n looks finds keeps 1/n of its score after
        # fusion, so each look reports down to a floor n times lower.  One
        # look passes through fusion untouched.
        seen = [self._look(tile, scale, min_score / len(looks), model) for model, scale in looks]
        boxes, scores, classes = fuse_detections(seen)
        keep = scores >= min_score
        return boxes[keep], scores[keep], classes[keep]

    def _look(self, tile: NDArray[Any], scale: float, min_score: float, model: Any = None) -> Detections:
        """One pass of a network over a tile shrunk by `scale`.  Each tile
        is shrunk on its own, so memory is that of one tile however large
        the image."""
        work = to_work_scale(tile, scale)
        height, width = work.shape[:2]
        padded = pad_to_multiple(work)
        raw = self.head(padded, model)
        if self.card.flip_average:
            # Test-time flip: the centre heatmap of the mirrored image, mirrored
            # back, averaged in; box geometry stays that of the upright pass.
            mirrored = self.head(np.ascontiguousarray(padded[:, ::-1]), model)[:, ::-1]
            raw[:, :, : len(CLASSES)] = (raw[:, :, : len(CLASSES)] + mirrored[:, :, : len(CLASSES)]) / 2
        boxes, scores, classes = decode_head(raw, min_score=min_score, nms_iou=self.card.nms_iou)
        # Boxes centred in the padding are not cells of this image.
        cx = (boxes[:, 0] + boxes[:, 2]) / 2
        cy = (boxes[:, 1] + boxes[:, 3]) / 2
        inside = (cx < width) & (cy < height)
        return boxes[inside] / scale, scores[inside], classes[inside]

    # -- detection ---------------------------------------------------------

    def detect_arrays(
        self, image: NDArray[Any], min_score: float | None = None, factor: float | None = None
    ) -> Detections:
        """Boxes (image pixels, clipped), scores and class indices for every
        detection scoring at least min_score (default: the card's lowest).
        factor: look at the image as if resized by it; None: as the image's
        red cells ask (estimate_magnification)."""
        if factor is not None:
            return self._detect_at(image, min_score, factor)
        return self.magnified(image, min_score)[1]

    def magnified(
        self, image: NDArray[Any], min_score: float | None = None, start: float = 1.0
    ) -> tuple[Magnification, Detections]:
        """The image's magnification as its red cells tell it, and the
        detections at the learnt scale (see core.detection.magnification);
        start: the factor of the first look (a run's LabMagnification)."""
        # The ruler counts red cells scoring RED_SCORE or more; a look whose
        # floor is higher (detect()'s, the lowest threshold) counts those it kept.
        return estimate_magnification(
            lambda factor: self._detect_at(image, min_score, factor),
            self.ruler(),
            start=start,
            probe_look=lambda factor: self._detect_at(_middle(image, PROBE_SIDE / factor), min_score, factor),
        )

    def ruler(self) -> RedRuler | None:
        """The red-cell sizes the detector learnt, None when its card does not say."""
        if len(self.card.red_cell_range) != 2:
            return None
        low, high = self.card.red_cell_range
        return RedRuler(low, high, self.card.red_cell_median)

    def _detect_at(self, image: NDArray[Any], min_score: float | None, factor: float) -> Detections:
        height, width = image.shape[:2]
        if image.ndim != 3 or image.shape[2] != 3:
            return _empty()
        steps = self._detect_rows(height, width, lambda y0, y1, x0, x1: image[y0:y1, x0:x1], min_score, factor)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                found: Detections = finished.value
                return found

    def detect(self, image: NDArray[Any]) -> list[Detection]:
        """Every cell in an RGB uint8 image scoring at least its class's
        operating threshold, after NMS, at the scale its red cells ask for."""
        return self.detect_magnified(image)[1]

    def detect_magnified(self, image: NDArray[Any], start: float = 1.0) -> tuple[Magnification, list[Detection]]:
        """detect(), with the magnification it found; start: the factor
        looked at first (a run's LabMagnification.start())."""
        magnification, detections = self.magnified(image, float(self._thresholds().min()), start)
        return magnification, self._operating(detections)

    def detect_bands(
        self, bands: Iterator[NDArray[Any]], height: int, width: int
    ) -> Generator[tuple[int, int], None, list[Detection]]:
        """detect() over an image read top to bottom in bands of rows (see
        core.image_bands), holding one row of tiles rather than the whole
        image.  Yields (tiles done, tiles in all) after each row of tiles;
        returns what detect() would."""
        window = BandWindow(bands, width)
        # The scan's magnification is judged on its first tile, read before
        # the rows are searched (the band window keeps it for them).
        side = round(self.card.tile / self.card.work_scale)
        corner = window.tile(0, min(height, side), 0, min(width, side))
        factor = self.magnified(np.ascontiguousarray(corner))[0].factor if min(corner.shape[:2]) >= _MIN_SIDE else 1.0
        detections = yield from self._detect_rows(height, width, window.tile, float(self._thresholds().min()), factor)
        return self._operating(detections)

    def _detect_rows(
        self,
        height: int,
        width: int,
        pixels: Callable[[int, int, int, int], NDArray[Any]],
        min_score: float | None,
        factor: float = 1.0,
    ) -> Generator[tuple[int, int], None, Detections]:
        if min(height, width) < _MIN_SIDE:
            return _empty()
        score_floor = self.card.min_score if min_score is None else min_score
        # Tiles and overlap are sizes in network pixels: in image pixels
        # they shrink as the image is looked at enlarged.
        scale = self.card.work_scale * factor
        boxes, scores, classes = yield from detect_tiled_rows(
            height,
            width,
            pixels,
            lambda tile: self._detect_tile(tile, score_floor, factor),
            tile=round(self.card.tile / scale),
            overlap=round(self.card.overlap / scale),
            nms_iou=self.card.nms_iou,
        )
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
        real = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        return boxes[real], scores[real], classes[real]

    def _thresholds(self) -> NDArray[Any]:
        return np.array([self.card.thresholds[name] for name in CLASSES], dtype=np.float32)

    def _operating(self, detections: Detections) -> list[Detection]:
        """Detections scoring at least their class's operating threshold."""
        boxes, scores, classes = detections
        keep = scores >= self._thresholds()[classes]
        return [
            Detection(Box(*map(float, box)), _KINDS[int(cls)], float(score))
            for box, score, cls in zip(boxes[keep], scores[keep], classes[keep])
        ]


def _middle(image: NDArray[Any], side: float) -> NDArray[Any]:
    """The middle of the image, at most `side` pixels a side."""
    height, width = image.shape[:2]
    crop_h, crop_w = min(height, max(_MIN_SIDE, round(side))), min(width, max(_MIN_SIDE, round(side)))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return image[top : top + crop_h, left : left + crop_w]


def _load_keras(weights: Path) -> Any:
    from core.keras_files import load_keras_file

    return load_keras_file(weights, ModelCardError, "the detector weights")
