"""What a project teaches between fine-tunes (core.project_learning), on
made-up embeddings: the rules of the light model, and its path through a
real store (taught predictions, undo, signed slides)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.project_learning import (
    CellFeatures,
    FeatureCache,
    ProjectLearner,
    base_version,
    describe_version,
    log_softmax,
    most_informative_first,
    normalised,
    refit,
    taught_count,
    taught_version,
)
from core.schema import Box, CellKind, LabelSource, NewCell
from core.store import ProjectStore

CLASSES = ["neutrophil", "eosinophil", "lymphocyte", "monocyte"]
DIM = 16


def clusters(rng: np.random.Generator, per_class: int = 30, spread: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Normalised embeddings around one centre per class, and their classes."""
    centres = normalised(rng.normal(size=(len(CLASSES), DIM)))
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    return normalised(centres[labels] + spread * rng.normal(size=(len(labels), DIM))), labels


def network(labels: np.ndarray, wrong: dict[int, int], confidence: float = 0.8) -> np.ndarray:
    """Log-probabilities of a network that takes class a for class b where wrong[b] = a."""
    said = np.array([wrong.get(int(label), int(label)) for label in labels])
    p = np.full((len(labels), len(CLASSES)), (1 - confidence) / (len(CLASSES) - 1))
    p[np.arange(len(labels)), said] = confidence
    return np.log(p)


def test_a_class_the_network_gets_wrong_is_learnt_from_a_few_corrections() -> None:
    rng = np.random.default_rng(0)
    embeddings, labels = clusters(rng)
    net = network(labels, wrong={1: 0})  # every eosinophil called a neutrophil
    taught = np.r_[np.flatnonzero(labels == 1)[:3], np.flatnonzero(labels == 0)[:3], np.flatnonzero(labels == 2)[:2]]
    learner = ProjectLearner(len(CLASSES)).fit(embeddings[taught], labels[taught], net[taught])
    assert learner.weight > 0 and learner.taught == 8
    rest = np.setdiff1d(np.arange(len(labels)), taught)
    before = (net[rest].argmax(1) == labels[rest]).mean()
    after = (learner.predict(embeddings[rest], net[rest]).argmax(1) == labels[rest]).mean()
    assert before < 0.8 and after > 0.95


def test_corrections_that_agree_with_the_network_leave_it_alone() -> None:
    rng = np.random.default_rng(1)
    embeddings, labels = clusters(rng, spread=0.9)  # the embedding says little
    net = network(labels, wrong={}, confidence=0.9)
    taught = np.arange(0, len(labels), 5)
    learner = ProjectLearner(len(CLASSES)).fit(embeddings[taught], labels[taught], net[taught])
    assert learner.weight == 0.0
    np.testing.assert_allclose(learner.predict(embeddings, net), np.exp(net))


@pytest.mark.parametrize("taught", [[], [0], [0, 1, 2]], ids=["none", "one cell", "one class"])
def test_too_little_teaching_teaches_nothing(taught: list[int]) -> None:
    rng = np.random.default_rng(2)
    embeddings, labels = clusters(rng)
    net = network(labels, wrong={1: 0})
    index = np.array(taught, int)
    learner = ProjectLearner(len(CLASSES)).fit(embeddings[index], labels[index], net[index])
    assert learner.weight == 0.0
    np.testing.assert_allclose(learner.predict(embeddings, net), np.exp(net))


def test_contradictory_labels_on_one_cell_do_not_break_the_fit() -> None:
    rng = np.random.default_rng(3)
    embeddings, labels = clusters(rng, per_class=5)
    twice = np.r_[embeddings, embeddings]
    contradicting = np.r_[labels, (labels + 1) % len(CLASSES)]
    net = network(contradicting, wrong={})
    learner = ProjectLearner(len(CLASSES)).fit(twice, contradicting, net)
    probabilities = learner.predict(embeddings, network(labels, wrong={}))
    assert np.isfinite(probabilities).all() and np.allclose(probabilities.sum(1), 1.0)


def test_taught_versions_name_their_teaching() -> None:
    version = taught_version("hemalabel-wbc-1.2.0", 37)
    assert taught_count(version) == 37 and base_version(version) == "hemalabel-wbc-1.2.0"
    assert taught_count("hemalabel-wbc-1.2.0") is None and base_version("x") == "x"
    assert describe_version(version) == "hemalabel-wbc-1.2.0, taught by 37 reviewed cells of this project"
    assert describe_version(None) == "\u2014"


# ------------------------------------------------------------ through a store


class Project:
    """A store of one white cell per made-up embedding on two slides, the
    network's view written as the classifier writes it."""

    def __init__(self, folder: Path, embeddings: np.ndarray, labels: np.ndarray, net: np.ndarray) -> None:
        self.store = ProjectStore.create(folder / "p.hemalabel")
        slides = [self.store.add_slide(folder / f"s{i}.png", 1000, 1000) for i in range(2)]
        self.model = SimpleNamespace(classes=CLASSES, temperature=1.0, version="net-1")
        self.cache = FeatureCache()
        self.truth: dict[int, int] = {}
        probabilities = np.exp(net)
        for index, (embedding, label) in enumerate(zip(embeddings, labels)):
            box = Box(10 * (index % 90), 10 * (index // 90), 10 * (index % 90) + 8, 10 * (index // 90) + 8)
            (cell,) = self.store.add_cells(slides[index % 2].id, [NewCell(box=box, kind=CellKind.WHITE,
                                                                          source=LabelSource.MODEL)], "Detect")
            row = probabilities[index]
            self.store.set_predictions([(cell.id, CLASSES[int(row.argmax())], dict(zip(CLASSES, map(float, row))))],
                                       "net-1")
            self.cache.put([cell], [CellFeatures(box.as_tuple(), embedding, net[index])])
            self.truth[cell.id] = int(label)
        self.slides = slides

    def teach(self):  # noqa: ANN201
        teaching = refit(self.store.cells(), self.cache, self.model, np.ones(len(CLASSES), bool),
                         lambda row: CLASSES[int(np.argmax(row))],
                         {s.id for s in self.store.slides() if s.status.value == "signed_off"})
        self.store.set_taught_predictions(teaching.predictions, teaching.version)
        return teaching

    def accuracy(self) -> float:
        cells = [c for c in self.store.cells() if not c.reviewed]
        return float(np.mean([c.label == CLASSES[self.truth[c.id]] for c in cells]))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    rng = np.random.default_rng(4)
    embeddings, labels = clusters(rng, per_class=20)
    project = Project(tmp_path, embeddings, labels, network(labels, wrong={1: 0}))
    yield project
    project.store.close()


def test_decisions_change_the_other_cells_and_undo_takes_the_teaching_back(project: Project) -> None:
    before = project.accuracy()
    eosinophils = [i for i, label in project.truth.items() if label == 1][:3]
    neutrophils = [i for i, label in project.truth.items() if label == 0][:3]
    for cell_id in eosinophils:
        project.store.set_label([cell_id], "eosinophil")
    project.store.set_label(neutrophils, "neutrophil")
    teaching = project.teach()
    assert teaching.taught == 6 and teaching.weight > 0 and teaching.predictions
    assert project.accuracy() > before + 0.15
    taught = [c for c in project.store.cells() if not c.reviewed and c.model_version == teaching.version]
    assert taught and all(taught_count(c.model_version) == 6 for c in taught)
    assert project.store.can_undo()  # the taught writes are not an undo step of their own
    for _ in range(4):
        project.store.undo()
    again = project.teach()
    assert again.taught == 0 and project.accuracy() == pytest.approx(before)
    assert all(c.model_version == "net-1" for c in project.store.cells())


def test_a_signed_slide_and_reviewed_cells_are_never_rewritten(project: Project) -> None:
    signed = project.slides[0]
    for cell_id in [i for i, label in project.truth.items() if label == 1][:4]:
        project.store.set_label([cell_id], "eosinophil")
    project.store.set_label([i for i, label in project.truth.items() if label == 0][:4], "neutrophil")
    project.store.confirm([c.id for c in project.store.cells(signed.id) if not c.reviewed])
    on_signed = {c.id: (c.label, c.model_version, c.probabilities) for c in project.store.cells(signed.id)}
    project.store.sign_off(signed.id, "AB", below_target_reason="test slide")
    project.teach()
    assert {c.id: (c.label, c.model_version, c.probabilities) for c in project.store.cells(signed.id)} == on_signed
    assert any(c.model_version != "net-1" for c in project.store.cells(project.slides[1].id))
    assert all(c.source is LabelSource.HUMAN for c in project.store.cells() if c.reviewed)


def test_the_most_informative_cell_is_the_doubtful_one_unlike_those_reviewed(project: Project) -> None:
    cells = project.store.cells()
    first = most_informative_first(cells, project.cache, limit=3)
    assert len(first) == 3 and len(set(first)) == 3
    assert all(not project.store.cell(i).reviewed for i in first)
    # The three come from three different clusters: diversity counts.
    assert len({project.truth[i] for i in first}) == 3


def test_log_softmax_is_a_distribution() -> None:
    z = log_softmax(np.array([[1.0, 2.0, -np.inf]]))
    assert np.exp(z).sum() == pytest.approx(1.0) and np.exp(z)[0, 2] == 0.0


def test_classify_project_learns_from_the_reviewed_cells_as_the_window_does(tmp_path: Path, capsys) -> None:
    """`hemalabel classify --project` runs the same teacher: after a few
    reviewed cells the others' predictions name what they taught."""
    import json

    import cv2

    from app.cli.main import main

    image = np.full((160, 720, 3), (200, 170, 220), np.uint8)
    boxes = []
    for index in range(6):
        cx = 60 + 120 * index
        radius = 30 if index % 2 == 0 else 50
        colour = (120, 40, 90) if index % 2 == 0 else (200, 150, 160)
        cv2.circle(image, (cx, 80), radius, colour, -1)
        boxes.append(Box(cx - radius, 80 - radius, cx + radius, 80 + radius))
    for n in range(3):
        cv2.imwrite(str(tmp_path / f"s{n}.png"), image)
    project = tmp_path / "p.hemalabel"
    with ProjectStore.create(project) as store:
        for n in range(3):
            slide = store.add_slide(tmp_path / f"s{n}.png", 720, 160)
            cells = store.add_cells(slide.id,
                                    [NewCell(box=b, kind=CellKind.WHITE, source=LabelSource.MODEL) for b in boxes],
                                    "Detect")
            if n == 0:
                for index, cell in enumerate(cells):
                    store.set_label([cell.id], "lymphocyte" if index % 2 == 0 else "monocyte")
    assert main(["classify", "--project", str(project), "--learn", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["taught_by"] == 0
    assert main(["classify", "--project", str(project), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["taught_by"] == 6 and summary["taught_predictions"] > 0
    with ProjectStore.open(project, read_only=True) as store:
        others = [c for c in store.cells() if not c.reviewed]
        assert all(taught_count(c.model_version) == 6 for c in others)
        most_likely = {c.id: max(c.probabilities.items(), key=lambda item: item[1])[0] for c in others}
        assert all(
            most_likely[c.id] == ("lymphocyte" if (c.box.x1 - c.box.x0) == 60 else "monocyte") for c in others
        )


def test_learning_curve_scores_each_point_on_the_cells_decided_later() -> None:
    from core.project_learning import MIN_CURVE_CELLS, learning_curve, log_softmax

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 12)) * 3
    labels = np.tile(np.arange(3), 20)
    vectors = centres[labels] + rng.normal(size=(60, 12))
    embeddings = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    network = log_softmax(np.tile([1.5, 0.0, 0.0], (60, 1)))  # a network that says class 0 to every cell
    curve = learning_curve(embeddings, labels, network, points=10)
    assert curve[0].taught == 0 and curve[0].scored == 60
    assert curve[-1].taught == 60 - MIN_CURVE_CELLS and curve[-1].scored == MIN_CURVE_CELLS
    assert all(p.network_balanced_accuracy == pytest.approx(1 / 3) for p in curve)
    assert curve[0].balanced_accuracy == pytest.approx(1 / 3)  # nothing taught yet
    assert curve[-1].balanced_accuracy > 0.9
    assert learning_curve(embeddings[:9], labels[:9], network[:9]) == []


def test_a_cell_boxed_twice_and_labelled_two_ways_teaches_nothing() -> None:
    from core.project_learning import teaching_cells
    from core.schema import Cell

    def cell(cell_id: int, box: Box, label: str, slide: int = 1) -> Cell:
        return Cell(id=cell_id, slide_id=slide, box=box, kind=CellKind.WHITE, label=label, source=LabelSource.HUMAN,
                    reviewed=True, probabilities={}, model_version=None)

    cells = [cell(1, Box(0, 0, 40, 40), "neutrophil"), cell(2, Box(1, 1, 41, 41), "lymphocyte"),
             cell(3, Box(100, 0, 140, 40), "neutrophil"), cell(4, Box(101, 0, 141, 40), "neutrophil"),
             cell(5, Box(0, 0, 40, 40), "lymphocyte", slide=2)]
    assert [c.id for c in teaching_cells(cells, ["neutrophil", "lymphocyte"])] == [3, 4, 5]
