"""What the training data looks like: class counts and per-class intensity
histograms (the seeds' exploratory plots, computed for the live project)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from core.jobs import run_job
from core.store import ProjectStore
from core.training.loading import load_cells

BINS = 32
# Small crops are plenty for a histogram and keep the dialog quick.
CROP_SIZE = 48
CHANNELS = ("red", "green", "blue", "gray")


@dataclass(slots=True)
class Insights:
    class_counts: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    bin_edges: list[float] = field(default_factory=list)


def dataset_insights(store: ProjectStore, max_per_class: int = 200, seed: int = 0) -> Insights:
    """Counts of every class among the project's training examples, and for
    each class the normalised histogram of each channel over up to
    `max_per_class` of its crops (a random sample: reading every crop of a
    big project would keep the dialog waiting)."""
    from core.retraining.examples import training_examples

    classes = list(store.taxonomy.names)
    examples = training_examples(store, classes)
    counts = Counter(e.label for e in examples)
    edges = np.linspace(0.0, 256.0, BINS + 1)
    insights = Insights(class_counts={c: counts[c] for c in classes if counts[c]}, bin_edges=edges.tolist())
    rng = random.Random(seed)
    for label in insights.class_counts:
        members = [e for e in examples if e.label == label]
        sample = rng.sample(members, min(len(members), max_per_class))
        arrays = run_job(load_cells(sample, classes, CROP_SIZE, 0.0, with_train_view=False))
        if not len(arrays.eval_view):
            continue
        pixels = arrays.eval_view.reshape(-1, 3).astype(np.float32)
        gray = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
        insights.histograms[label] = {
            name: (np.histogram(values, bins=edges)[0] / len(values)).tolist()
            for name, values in zip(CHANNELS, (pixels[:, 0], pixels[:, 1], pixels[:, 2], gray))
        }
    return insights
