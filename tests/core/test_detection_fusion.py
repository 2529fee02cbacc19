"""Fusing the looks at several working scales: what agrees is kept at the
mean of its scores, what one look alone saw keeps a share of its score, and
classes never mix."""

from __future__ import annotations

import numpy as np
import pytest

from core.detection.fusion import fuse_detections


def look(*rows: tuple[float, float, float, float, float, int]):
    boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    scores = np.array([r[4] for r in rows], np.float32)
    classes = np.array([r[5] for r in rows], np.int64)
    return boxes, scores, classes


def test_boxes_both_looks_found_are_averaged_by_score() -> None:
    first = look((10, 10, 30, 30, 0.9, 2))
    second = look((12, 10, 32, 30, 0.3, 2))
    boxes, scores, classes = fuse_detections([first, second])
    assert len(boxes) == 1 and classes[0] == 2
    np.testing.assert_allclose(scores, [0.6], rtol=1e-6)
    # Weighted 3:1 toward the surer look.
    np.testing.assert_allclose(boxes[0], [10.5, 10, 30.5, 30], rtol=1e-6)


def test_a_box_only_one_look_found_keeps_its_share_of_the_score() -> None:
    first = look((10, 10, 30, 30, 0.8, 1), (100, 100, 140, 140, 0.6, 0))
    second = look((11, 11, 31, 31, 0.8, 1))
    boxes, scores, classes = fuse_detections([first, second])
    assert sorted(zip(classes.tolist(), scores.tolist())) == [(0, pytest.approx(0.3)), (1, pytest.approx(0.8))]
    assert list(scores) == sorted(scores, reverse=True)


def test_different_classes_and_distant_boxes_are_not_fused() -> None:
    first = look((10, 10, 30, 30, 0.8, 1))
    second = look((10, 10, 30, 30, 0.8, 2), (60, 60, 80, 80, 0.8, 1))
    _, scores, classes = fuse_detections([first, second])
    assert len(scores) == 3 and np.allclose(scores, 0.4)
    assert sorted(classes.tolist()) == [1, 1, 2]


def test_each_cluster_takes_one_box_per_look_the_most_overlapping() -> None:
    # Two neighbouring cells in the first look; the second look's box lies
    # over the right-hand one and must join it, not the first cluster made.
    first = look((0, 0, 20, 20, 0.9, 1), (8, 0, 28, 20, 0.5, 1))
    second = look((8, 0, 28, 20, 0.7, 1))
    boxes, scores, _ = fuse_detections([first, second])
    by_left = dict(zip(np.round(boxes[:, 0]).tolist(), scores.tolist()))
    assert by_left == {0.0: pytest.approx(0.45), 8.0: pytest.approx(0.6)}


def test_one_look_or_none_at_all() -> None:
    only = look((1, 1, 5, 5, 0.5, 0))
    assert fuse_detections([only]) is only
    empty = look()
    boxes, scores, classes = fuse_detections([empty, empty, empty])
    assert boxes.shape == (0, 4) and scores.shape == (0,) and classes.shape == (0,)
