"""What a project teaches the classifier between fine-tunes.

A fine-tune takes minutes; a technician's 30th correction should change
the other cells' predictions at once.  So each white cell's embedding (the
network's pooled features, the input of its last layer) is kept with the
network's own logits, and after every decision a light model is refitted
on the project's reviewed cells: one prototype per class (the mean of its
reviewed cells' normalised embeddings), whose cosine similarities give a
second opinion.  The two are combined as a product of experts,

    log p(class) = log p_network(class) + w * score(class) + constant,

where a class's score is its prototype's similarity, and a class the
project has no example of scores midway between the similarity of the
reviewed cells to their own class and to the others.  w is the weight
under which the others best predict each reviewed cell (leave-one-out,
balanced accuracy), the smaller among equals: a project whose corrections
agree with the network leaves it alone, one whose cells the network gets
wrong hands more of the decision to what the project taught.

The reviewed cells are the whole of what was taught, so undoing a
correction undoes its teaching, and reopening a project restores it: the
embeddings are a cache, recomputed from the slides when missing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from core.classifier.preprocess import batch_of
from core.crops import crop_square
from core.detection.colour_turns import HueTurn, model_colours, project_turn
from core.detection.nms import iou_matrix
from core.imaging import ImageReadError
from core.schema import Cell, CellKind, LabelSource, SlideStatus
from core.slide_pixels import load_slide_for_models
from core.store import ProjectStore

# Cosine similarities of normalised embeddings are scaled by this before the
# softmax over prototypes: a sharp but not one-hot second opinion.
SHARPNESS = 15.0
# The weights tried for the prototypes' opinion, and the pull to the network
# (added to the mean leave-one-out NLL per unit of weight).
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
# Between weights that predict the reviewed cells equally well, the
# smaller wins: the network is kept unless the project shows it wrong.
PULL_TO_NETWORK = 1e-4
# Two boxes of one slide overlapping this much are one cell.
SAME_CELL_IOU = 0.8
# Fewer reviewed cells than this teach nothing: leave-one-out needs a few.
MIN_TAUGHT = 3
# A prediction is rewritten only when its label changes or a probability
# moves this much: every refit moves them all a little.
MIN_CHANGE = 0.02
_TAUGHT = re.compile(r"^(?P<base>.+)\+taught(?P<count>\d+)$")


def taught_version(base: str, count: int) -> str:
    """The model version a taught prediction carries: 'hemalabel-wbc-1.2.0+taught37'."""
    return f"{base}+taught{count}"


def taught_count(version: str | None) -> int | None:
    """How many reviewed cells taught a prediction, None for the network's own."""
    match = _TAUGHT.match(version or "")
    return int(match["count"]) if match else None


def describe_version(version: str | None) -> str:
    """A model version as the inspector shows it: a taught prediction says
    so, 'hemalabel-wbc-1.2.0, taught by 37 reviewed cells of this project'."""
    count = taught_count(version)
    if count is None:
        return version or "\u2014"
    cells = "1 reviewed cell" if count == 1 else f"{count} reviewed cells"
    return f"{base_version(version)}, taught by {cells} of this project"


def base_version(version: str | None) -> str | None:
    match = _TAUGHT.match(version or "")
    return match["base"] if match else version


def log_softmax(z: NDArray[Any]) -> NDArray[Any]:
    z = z - z.max(axis=1, keepdims=True)
    out: NDArray[Any] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def normalised(vectors: NDArray[Any]) -> NDArray[Any]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: NDArray[Any] = vectors / np.maximum(norms, 1e-12)
    return out


class ProjectLearner:
    """Prototypes of the reviewed cells and the weight of their opinion."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.sums = np.zeros((n_classes, 0), np.float64)
        self.counts = np.zeros(n_classes, np.int64)
        self.weight = 0.0
        self.other = 0.0
        self.taught = 0

    def fit(self, embeddings: NDArray[Any], labels: NDArray[Any], network_logp: NDArray[Any]) -> ProjectLearner:
        """embeddings R x d (normalised), labels R class indices, network_logp
        R x C: the reviewed cells."""
        self.sums = np.zeros((self.n_classes, embeddings.shape[1]), np.float64)
        self.counts = np.zeros(self.n_classes, np.int64)
        np.add.at(self.sums, labels, embeddings)
        np.add.at(self.counts, labels, 1)
        self.taught = len(labels)
        self.weight = 0.0
        if len(labels) >= MIN_TAUGHT and (self.counts > 0).sum() >= 2:
            self.weight = self._leave_one_out_weight(embeddings, labels, network_logp)
        return self

    def predict(self, embeddings: NDArray[Any], network_logp: NDArray[Any]) -> NDArray[Any]:
        """Probabilities N x C for cells with these embeddings and the
        network's log-probabilities."""
        if self.weight == 0.0:
            network: NDArray[Any] = np.exp(network_logp)
            return network
        scores = self._prototype_scores(embeddings, self.sums, self.counts)
        return _combine(network_logp, scores, self.weight, self.other)

    def _leave_one_out_weight(
        self, embeddings: NDArray[Any], labels: NDArray[Any], network_logp: NDArray[Any]
    ) -> float:
        # Each reviewed cell scored by prototypes that leave it out.
        sums = self.sums[labels] - embeddings  # its own class's sum without it
        scores = self._prototype_scores(embeddings, self.sums, self.counts)
        own_count = self.counts[labels] - 1
        own = np.einsum("nd,nd->n", normalised(np.where(own_count[:, None] > 0, sums, 1.0)), embeddings) * SHARPNESS
        rows = np.arange(len(labels))
        scores[rows, labels] = np.where(own_count > 0, own, -np.inf)
        # The score of 'none of the reviewed classes': midway between how
        # reviewed cells score for their own class and for another one.
        typical = own[own_count > 0]
        others = scores.copy()
        others[rows, labels] = -np.inf
        between = others[np.isfinite(others)]
        self.other = float((np.median(typical) + np.median(between)) / 2) if typical.size and between.size else 0.0
        # Judged by balanced accuracy, as the differential is: a network
        # confidently wrong on this lab's cells would dominate a likelihood.
        classes = np.unique(labels)
        best, chosen = -np.inf, 0.0
        for weight in WEIGHTS:
            predicted = _combine(network_logp, scores, weight, self.other).argmax(axis=1)
            recall = np.mean([np.mean(predicted[labels == k] == k) for k in classes])
            if recall - PULL_TO_NETWORK * weight > best + 1e-9:
                best, chosen = recall - PULL_TO_NETWORK * weight, weight
        return chosen

    @staticmethod
    def _prototype_scores(embeddings: NDArray[Any], sums: NDArray[Any], counts: NDArray[Any]) -> NDArray[Any]:
        """Scaled cosine similarity to each class's prototype; -inf where the
        project has no example of the class."""
        have = counts > 0
        prototypes = np.zeros_like(sums)
        prototypes[have] = normalised(sums[have])
        scores: NDArray[Any] = SHARPNESS * embeddings @ prototypes.T
        scores[:, ~have] = -np.inf
        return scores


def _combine(network_logp: NDArray[Any], scores: NDArray[Any], weight: float, other: float) -> NDArray[Any]:
    """Product of experts.  A class the project has no example of gets the
    prototypes' `other` score: a cell as close to a reviewed class as those
    cells are to their own is probably not of an unseen class, however sure
    the network is; a cell unlike every reviewed one keeps the network's
    view of the unseen classes."""
    if weight == 0.0:
        network: NDArray[Any] = np.exp(network_logp)
        return network
    opinion = np.where(np.isfinite(scores), scores, other)
    combined: NDArray[Any] = np.exp(log_softmax(network_logp + weight * opinion))
    return combined


@dataclass(frozen=True, slots=True)
class CellFeatures:
    box: tuple[float, float, float, float]
    embedding: NDArray[Any]  # normalised
    logits: NDArray[Any]  # the network's, uncalibrated


class FeatureModel:
    """The classifier's embedding and logits of crops, in one pass: the
    network up to its last layer, then that layer by hand."""

    def __init__(self, classifier: Any) -> None:
        import tensorflow as tf

        model = classifier.keras_model
        last = model.layers[-1]
        kernel, bias = last.get_weights()
        self.kernel, self.bias = kernel.astype(np.float32), bias.astype(np.float32)
        import keras

        trunk = keras.Model(model.inputs, last.input)
        # Called eagerly, never traced: graphs built on worker threads while
        # an older model's graphs were collected crashed TensorFlow.  Features
        # are computed once a cell, so the slower eager call costs little.
        self._forward: Callable[[Any], Any] = lambda x: trunk(tf.cast(x, tf.float32), training=False)
        self.size = int(classifier.card.input_size)
        self.margin = float(classifier.crop_margin)
        self.version = str(classifier.version)
        self.classes = list(classifier.classes)
        self.temperature = float(classifier.temperature)

    def features(self, image: NDArray[Any], cells: Sequence[Cell]) -> list[CellFeatures]:
        if not cells:
            return []
        pixels = batch_of([crop_square(image, cell.box, self.margin) for cell in cells], self.size)
        embeddings, logits = self.of_pixels(pixels)
        return [CellFeatures(cell.box.as_tuple(), vector, row) for cell, vector, row in zip(cells, embeddings, logits)]

    def of_pixels(self, pixels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        """Normalised embeddings and logits of N x S x S x 3 uint8 crops
        already cut and resized to the input size."""
        if not len(pixels):
            return np.zeros((0, len(self.kernel)), np.float32), np.zeros((0, len(self.classes)), np.float32)
        with _NETWORK_CALLS:
            embeddings = np.concatenate(
                [self._forward(pixels[s : s + 256]).numpy() for s in range(0, len(pixels), 256)]
            )
        return normalised(embeddings), embeddings @ self.kernel + self.bias

# Feature models of one network (the teacher's, the learning curve's, the
# retrain's) take turns: they share its layers.
_NETWORK_CALLS = threading.Lock()


class FeatureCache:
    """Embeddings and logits of a project's white cells, by cell id, for one
    model (its teacher's); an entry whose box has moved since, or whose
    slide the models now look at in other colours (a lab's turn agreed
    after it was read: core.detection.colour_turns.in_model_colours), is
    recomputed."""

    def __init__(self) -> None:
        self.entries: dict[int, CellFeatures] = {}
        self.colours: dict[int, HueTurn | None] = {}  # by cell id: the turn its features were read in
        self._lock = threading.Lock()

    def missing(self, cells: Iterable[Cell], colours: Mapping[int, HueTurn | None] | None = None) -> list[Cell]:
        """The cells to compute; `colours`: each slide's view now, by slide id (None: as cached)."""
        with self._lock:
            return [c for c in cells if (e := self.entries.get(c.id)) is None or e.box != c.box.as_tuple()
                    or (colours is not None and colours.get(c.slide_id) != self.colours.get(c.id))]

    def put(self, cells: Sequence[Cell], features: Sequence[CellFeatures], colours: HueTurn | None = None) -> None:
        with self._lock:
            for cell, feature in zip(cells, features):
                self.entries[cell.id] = feature
                self.colours[cell.id] = colours

    def get(self, cell_id: int) -> CellFeatures | None:
        with self._lock:
            return self.entries.get(cell_id)


class CellFeaturer(Protocol):
    """What fill_cache needs of a model: FeatureModel, or a test's stand-in."""

    def features(self, image: NDArray[Any], cells: Sequence[Cell]) -> list[CellFeatures]: ...


def fill_cache(
    store: ProjectStore, model: CellFeaturer, cache: FeatureCache, cells: Sequence[Cell],
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Compute the missing features of `cells`, slide by slide; returns how
    many were computed.  An unreadable slide's cells are left out."""
    slides = {slide.id: slide for slide in store.slides()}
    lab_turn = project_turn(slides.values())
    views = {slide_id: model_colours(slide, lab_turn) for slide_id, slide in slides.items()}
    by_slide: dict[int, list[Cell]] = {}
    for cell in cache.missing(cells, views):
        by_slide.setdefault(cell.slide_id, []).append(cell)
    done = 0
    for slide_id, slide_cells in by_slide.items():
        if should_stop():
            break
        try:
            image = load_slide_for_models(store, slides[slide_id], lab_turn)
        except (ImageReadError, OSError, KeyError):
            continue
        cache.put(slide_cells, model.features(image, slide_cells), views.get(slide_id))
        done += len(slide_cells)
    return done


def teaching_cells(cells: Iterable[Cell], classes: Sequence[str]) -> list[Cell]:
    """White cells a person stands behind, with a class the network has; a
    cell boxed twice on its slide and labelled two ways teaches nothing."""
    wanted = set(classes)
    chosen = [
        c for c in cells
        if c.kind is CellKind.WHITE and c.label in wanted
        and (c.reviewed or c.source in (LabelSource.HUMAN, LabelSource.IMPORT))
    ]
    by_slide: dict[int, list[Cell]] = {}
    for cell in chosen:
        by_slide.setdefault(cell.slide_id, []).append(cell)
    contradicted: set[int] = set()
    for members in by_slide.values():
        if len(members) < 2:
            continue
        boxes = np.array([m.box.as_tuple() for m in members], np.float64)
        labels = np.array([str(m.label) for m in members])
        same = (iou_matrix(boxes, boxes) >= SAME_CELL_IOU) & (labels[:, None] != labels[None, :])
        contradicted.update(members[i].id for i in np.flatnonzero(same.any(axis=1)))
    return [c for c in chosen if c.id not in contradicted]


@dataclass(slots=True)
class Teaching:
    """One refit's result: what to write and how it was taught."""

    predictions: list[tuple[int, str, dict[str, float]]]  # (cell id, label, probabilities) that changed
    taught: int  # reviewed cells learnt from
    weight: float  # the prototypes' weight chosen
    version: str  # the model version written with the predictions
    informative: list[int] = field(default_factory=list)  # unreviewed cell ids, most informative first (if asked)


def refit(
    cells: Sequence[Cell],
    cache: FeatureCache,
    model: FeatureModel,
    allowed: NDArray[Any],
    label_of: Callable[[NDArray[Any]], str],
    locked_slides: set[int],
) -> Teaching:
    """Fit on the reviewed white cells and predict the unreviewed model
    proposals of the network's own version on unlocked slides.  `allowed` is
    the white-cell class mask (core.inference.allowed_classes); `label_of`
    turns probabilities into a label with the thresholds in use."""
    index = {name: i for i, name in enumerate(model.classes)}
    teachers = [c for c in teaching_cells(cells, model.classes) if cache.get(c.id) is not None]
    learner = ProjectLearner(len(model.classes))
    if teachers:
        embeddings = np.stack([cache.get(c.id).embedding for c in teachers])  # type: ignore[union-attr]
        logits = np.stack([cache.get(c.id).logits for c in teachers])  # type: ignore[union-attr]
        labels = np.array([index[str(c.label)] for c in teachers])
        learner.fit(embeddings, labels, _network_logp(logits, model.temperature, allowed))
    version = taught_version(model.version, learner.taught) if learner.weight > 0 else model.version
    pupils = [
        c for c in cells
        if c.kind is CellKind.WHITE and not c.reviewed and c.source is LabelSource.MODEL
        and c.slide_id not in locked_slides and base_version(c.model_version) == model.version
        and cache.get(c.id) is not None
    ]
    changes: list[tuple[int, str, dict[str, float]]] = []
    if pupils:
        embeddings = np.stack([cache.get(c.id).embedding for c in pupils])  # type: ignore[union-attr]
        logits = np.stack([cache.get(c.id).logits for c in pupils])  # type: ignore[union-attr]
        probabilities = learner.predict(embeddings, _network_logp(logits, model.temperature, allowed))
        for cell, row in zip(pupils, probabilities):
            label = label_of(row)
            if label == cell.label and cell.model_version == version and _close(cell.probabilities, model.classes, row):
                continue
            changes.append((cell.id, label, dict(zip(model.classes, map(float, row)))))
    return Teaching(changes, learner.taught, learner.weight, version)


def _network_logp(logits: NDArray[Any], temperature: float, allowed: NDArray[Any]) -> NDArray[Any]:
    """The network's calibrated log-probabilities, ruled-out classes at
    -inf (as core.inference.rule_out_logits does for a white cell)."""
    return log_softmax(np.where(allowed[None, :], logits / temperature, -1e9))


def _close(stored: dict[str, float], classes: Sequence[str], row: NDArray[Any]) -> bool:
    return all(abs(stored.get(name, -1.0) - float(value)) < MIN_CHANGE for name, value in zip(classes, row))


def locked_slide_ids(store: ProjectStore) -> set[int]:
    return {slide.id for slide in store.slides() if slide.status is SlideStatus.SIGNED_OFF}


# How much being unlike every reviewed cell counts beside doubt.
NOVELTY = 0.2
GREEDY_HEAD = 200


def most_informative_first(cells: Sequence[Cell], cache: FeatureCache, limit: int | None = None) -> list[int]:
    """Unreviewed white cells, those whose answer would teach most first:
    the least certain (one minus their top probability), and among
    them those least like anything already reviewed (one minus the largest
    cosine similarity to a reviewed cell), so a run of near-identical
    doubtful cells is not asked one after another.  The choice is greedy:
    each chosen cell counts as reviewed for the next."""
    candidates = [c for c in cells if c.kind is CellKind.WHITE and not c.reviewed and cache.get(c.id) is not None]
    reviewed = [c for c in cells if c.kind is CellKind.WHITE and c.reviewed and cache.get(c.id) is not None]
    if not candidates:
        return []
    embeddings = np.stack([cache.get(c.id).embedding for c in candidates])  # type: ignore[union-attr]
    doubt = np.array([_doubt(c.probabilities) for c in candidates])
    nearest = np.full(len(candidates), -1.0)
    if reviewed:
        taught = np.stack([cache.get(c.id).embedding for c in reviewed])  # type: ignore[union-attr]
        nearest = (embeddings @ taught.T).max(axis=1)
    order: list[int] = []
    remaining = np.ones(len(candidates), bool)
    # Greedy where it matters, the first GREEDY_HEAD asked; the rest by
    # their gain as it then stands (each greedy step costs a pass over all).
    wanted = min(limit or len(candidates), len(candidates))
    for _ in range(min(wanted, GREEDY_HEAD)):
        gain = np.where(remaining, doubt + NOVELTY * (1.0 - nearest), -np.inf)
        best = int(gain.argmax())
        order.append(candidates[best].id)
        remaining[best] = False
        nearest = np.maximum(nearest, embeddings @ embeddings[best])
    if len(order) < wanted:
        gain = np.where(remaining, doubt + NOVELTY * (1.0 - nearest), -np.inf)
        rest = np.argsort(-gain, kind="stable")[: wanted - len(order)]
        order += [candidates[int(i)].id for i in rest]
    return order


def _doubt(probabilities: dict[str, float]) -> float:
    """One minus the top probability: 0 for a sure cell, 1 for none given."""
    return 1.0 - max(probabilities.values(), default=0.0)


class ProjectTeacher:
    """The instant path for one project and classifier: keep the cells'
    features, refit after each decision, write what changed.  The GUI runs
    teach() off the window's thread; the benchmark runs it inline."""

    def __init__(self, store: ProjectStore, classifier: Any, thresholds: Any = None) -> None:
        from core.inference import allowed_classes, label_from_probabilities

        self.store = store
        self.classifier = classifier
        self.model = FeatureModel(classifier)
        self.cache = FeatureCache()
        judge = thresholds if thresholds is not None else classifier
        self._label_of = lambda row: label_from_probabilities(judge, row)
        self._allowed = allowed_classes(self.model.classes, CellKind.WHITE, store.taxonomy)
        self.last: Teaching | None = None
        # The review order costs a pass over every cell a decision: made
        # only once a view has asked for it.
        self.ranks = False

    def prepare(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Features of every white cell not yet cached (slides are read)."""
        return fill_cache(self.store, self.model, self.cache, self.store.cells(kind=CellKind.WHITE), should_stop)

    def teach(self) -> Teaching:
        """Refit on the reviewed cells and write the predictions that changed."""
        cells = self.store.cells(kind=CellKind.WHITE)
        fill_cache(self.store, self.model, self.cache, cells)
        teaching = refit(cells, self.cache, self.model, self._allowed, self._label_of, locked_slide_ids(self.store))
        if teaching.predictions:
            self.store.set_taught_predictions(teaching.predictions, teaching.version)
            cells = self.store.cells(kind=CellKind.WHITE)
        if self.ranks:
            teaching.informative = most_informative_first(cells, self.cache)
        self.last = teaching
        return teaching


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """After the first `taught` decisions, balanced accuracy on the `scored`
    cells decided later: of the instant path, and of the network alone."""

    taught: int
    scored: int
    balanced_accuracy: float
    network_balanced_accuracy: float


# A point scored on fewer later cells than this says nothing.
MIN_CURVE_CELLS = 10


def learning_curve(embeddings: NDArray[Any], labels: NDArray[Any], network_logp: NDArray[Any],
                   points: int = 40) -> list[CurvePoint]:
    """The project's own learning curve: cells in the order they were
    decided, each point taught by the first n and scored on the rest, so no
    cell is scored by what it taught."""
    total = len(labels)
    last = total - MIN_CURVE_CELLS
    if last < 0:
        return []
    step = max(1, last // points)
    curve = []
    for taught in sorted({*range(0, last + 1, step), last}):
        rest = slice(taught, None)
        learner = ProjectLearner(network_logp.shape[1]).fit(embeddings[:taught], labels[:taught], network_logp[:taught])
        predicted = learner.predict(embeddings[rest], network_logp[rest]).argmax(axis=1)
        curve.append(CurvePoint(taught, total - taught, _balanced(predicted, labels[rest]),
                                _balanced(network_logp[rest].argmax(axis=1), labels[rest])))
    return curve


def _balanced(predicted: NDArray[Any], labels: NDArray[Any]) -> float:
    return float(np.mean([np.mean(predicted[labels == k] == k) for k in np.unique(labels)]))


def project_learning_curve(store: ProjectStore, classifier: Any,
                           should_stop: Callable[[], bool] = lambda: False) -> list[CurvePoint]:
    """learning_curve over the project's reviewed white cells, in the order
    a person decided them (cells imported with a label first)."""
    from core.inference import allowed_classes

    model = FeatureModel(classifier)
    cache = FeatureCache()
    decided_at: dict[int, int] = {}
    for correction in store.corrections():
        decided_at[correction.cell_id] = correction.id  # the last decision counts
    cells = sorted(teaching_cells(store.cells(kind=CellKind.WHITE), model.classes),
                   key=lambda c: (decided_at.get(c.id, 0), c.id))
    fill_cache(store, model, cache, cells, should_stop)
    cells = [c for c in cells if cache.get(c.id) is not None]
    if not cells:
        return []
    index = {name: i for i, name in enumerate(model.classes)}
    embeddings = np.stack([cache.get(c.id).embedding for c in cells])  # type: ignore[union-attr]
    logits = np.stack([cache.get(c.id).logits for c in cells])  # type: ignore[union-attr]
    allowed = allowed_classes(model.classes, CellKind.WHITE, store.taxonomy)
    labels = np.array([index[str(c.label)] for c in cells])
    return learning_curve(embeddings, labels, _network_logp(logits, model.temperature, allowed))
