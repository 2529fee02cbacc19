"""Targets, decoding, NMS, tiling and AP: the numpy parts of the detector."""

from __future__ import annotations

import numpy as np
import pytest

from core.detection.decode import decode_head
from core.detection.evaluation import ImageResult, average_precision, bootstrap_intervals, choose_thresholds, evaluate
from core.detection.nms import class_nms, iou_matrix, nms
from core.detection.scale import pad_to_multiple, to_work_scale
from core.detection.targets import HEAT, REG_WEIGHT, encode_targets
from core.detection.tiling import detect_tiled, tile_grid, tile_starts


def _raw_from_target(target: np.ndarray) -> np.ndarray:
    """A perfect network's output for a target map."""
    heat = np.clip(target[..., HEAT], 1e-6, 1 - 1e-6)
    return np.concatenate([np.log(heat / (1 - heat)), target[..., 3:7]], axis=-1)


def test_encoded_targets_decode_back_to_the_boxes() -> None:
    boxes = np.array([[10, 20, 60, 70], [100, 100, 118, 121], [30, 150, 200, 250]], np.float32)
    classes = np.array([1, 2, 0])
    target = encode_targets(boxes, classes, 256, 256)
    assert target.shape == (64, 64, 11)
    assert (target[..., HEAT] == 1.0).sum() == 3
    assert target[..., REG_WEIGHT].max() == pytest.approx(1.0)
    found, scores, found_classes = decode_head(_raw_from_target(target), min_score=0.5)
    assert sorted(found_classes.tolist()) == [0, 1, 2]
    assert iou_matrix(found, boxes).max(axis=1).min() > 0.99


def test_ignore_boxes_zero_the_negative_weight_only_there() -> None:
    target = encode_targets(np.zeros((0, 4)), np.zeros(0, int), 64, 64, ignore_boxes=np.array([[0, 0, 16, 16]]))
    assert target[:4, :4, 8:].max() == 0.0
    assert target[8:, 8:, 8:].min() == 1.0


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    scores = np.array([0.5, 0.9, 0.4])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    # Different classes never suppress each other.
    assert sorted(class_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist()) == [0, 1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_tiles_cover_the_image_with_the_overlap() -> None:
    assert tile_starts(300, 512, 100) == [0]
    starts = tile_starts(2000, 512, 160)
    assert starts[0] == 0 and starts[-1] == 2000 - 512
    assert all(b - a <= 512 - 160 for a, b in zip(starts, starts[1:]))
    grid = tile_grid(1500, 2000, 512, 160)
    covered = np.zeros((1500, 2000), bool)
    for y0, x0, y1, x1 in grid:
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_cells_cut_by_seams_are_merged_to_one_box_each() -> None:
    rng = np.random.default_rng(3)
    height, width, tile, overlap = 900, 1300, 256, 96
    # Cells on a jittered grid, so no two overlap enough for NMS to merge them.
    gy, gx = np.mgrid[30:height:90, 30:width:90]
    centres = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-10, 10, size=(gx.size, 2))
    radii = rng.uniform(5, 40, size=gx.size)
    truth = np.column_stack([centres - radii[:, None], centres + radii[:, None]])
    truth[:, [0, 2]] = np.clip(truth[:, [0, 2]], 0, width)
    truth[:, [1, 3]] = np.clip(truth[:, [1, 3]], 0, height)
    image = np.zeros((height, width, 3), np.uint8)
    offsets: dict[int, tuple[int, int]] = {}

    def fake_detector(view: np.ndarray):
        # A "detector" that sees each cell clipped to its tile, as a real one does.
        y0, x0 = offsets[id(view)]
        h, w = view.shape[:2]
        boxes = truth - [x0, y0, x0, y0]
        clipped = np.clip(boxes, 0, [w, h, w, h])
        visible = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        return clipped[visible], np.full(visible.sum(), 0.9), np.zeros(visible.sum(), int)

    original = image.__getitem__

    class Tracking(np.ndarray):
        def __getitem__(self, key):  # remember where each tile came from
            view = original(key)
            offsets[id(view)] = (key[0].start, key[1].start)
            return view

    merged, _, _ = detect_tiled(image.view(Tracking), fake_detector, tile, overlap)
    assert len(merged) == len(truth)
    assert iou_matrix(truth, merged).max(axis=1).min() > 0.999


def test_pad_and_scale_keep_the_image_in_the_corner() -> None:
    image = np.full((45, 70, 3), 200, np.uint8)
    padded = pad_to_multiple(image)
    assert padded.shape == (64, 96, 3)
    assert (padded[:45, :70] == 200).all()
    assert to_work_scale(np.zeros((1, 1, 3), np.uint8), 0.5).shape == (1, 1, 3)


def test_average_precision_and_operating_point() -> None:
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    perfect = ImageResult(gt, np.array([0, 0]), gt.copy(), np.array([0.9, 0.8]), np.array([0, 0]))
    metrics = evaluate([perfect], {"white": 0.5, "red": 0.5, "platelet": 0.5})
    assert metrics["white"]["ap50"] == pytest.approx(1.0)
    assert metrics["white"]["ap50_95"] == pytest.approx(1.0)
    assert metrics["white"]["recall"] == 1.0 and metrics["white"]["precision"] == 1.0
    # A confident false positive ranked first halves precision at the start.
    noisy = ImageResult(
        gt, np.array([0, 0]), np.vstack([[50, 50, 60, 60], gt]), np.array([0.95, 0.9, 0.8]), np.array([0, 0, 0])
    )
    assert 0.4 < evaluate([noisy], {})["white"]["ap50"] < 0.8
    assert average_precision(np.zeros(0, bool), 3) == 0.0
    thresholds = choose_thresholds([noisy])
    assert thresholds["white"] == pytest.approx(0.8)


def test_bootstrap_intervals_resample_whole_images() -> None:
    box = np.array([[0, 0, 10, 10]], float)
    found = ImageResult(box, np.array([2]), box.copy(), np.array([0.9]), np.array([2]))
    missed = ImageResult(box, np.array([2]), np.zeros((0, 4)), np.zeros(0), np.zeros(0, int))
    thresholds = {"platelet": 0.5}
    # Every image alike: no spread at all.
    steady = bootstrap_intervals([found] * 20, thresholds)["platelet"]
    assert steady["ap50"] == pytest.approx((1.0, 1.0)) and steady["recall"] == pytest.approx((1.0, 1.0))
    # Half the images miss their platelet: recall 0.5, and 20 images leave
    # it between about 0.3 and 0.7, an interval that holds the figure.
    results = [found, missed] * 10
    low, high = bootstrap_intervals(results, thresholds)["platelet"]["recall"]
    assert evaluate(results, thresholds)["platelet"]["recall"] == 0.5
    assert 0.2 < low < 0.5 < high < 0.8
    # The same seed gives the same interval; classes without boxes give none.
    assert bootstrap_intervals(results, thresholds) == bootstrap_intervals(results, thresholds)
    assert bootstrap_intervals(results, thresholds)["white"] == {}


def test_a_box_cut_by_the_crop_is_kept_down_to_min_visible() -> None:
    from core.detection.augment import AugmentConfig, augmented_sample

    # The image is exactly the crop, so the crop cannot move; the box hangs
    # off its left edge with 12 of its 40 px (30%) inside.
    image = np.full((64, 64, 3), 200, np.uint8)
    boxes = np.array([[-28, 10, 12, 50]], np.float32)  # 12 of 40 px wide visible: 30%
    plain = dict(
        scale_range=(1.0, 1.0), hue_shift=0, saturation_range=(1, 1), brightness_range=(1, 1),
        grayscale_probability=0.0, blur_probability=0.0, crop=64,
    )
    for min_visible, positives in ((0.25, 1), (0.4, 0)):
        config = AugmentConfig(min_visible=min_visible, **plain)  # type: ignore[arg-type]
        _, target = augmented_sample(image, boxes, np.array([0]), np.random.default_rng(0), config)
        assert int((target[..., HEAT] == 1.0).sum()) == positives
        if not positives:  # ignored, not taught as background
            assert target[..., 8:].min() == 0.0


def test_class_weights_scale_each_classes_heatmap_loss() -> None:
    tf = pytest.importorskip("tensorflow")
    from core.detection.loss import detection_loss

    boxes = np.array([[8, 8, 40, 40], [30, 30, 42, 42]], np.float32)
    target = encode_targets(boxes, np.array([1, 2]), 64, 64)[None]
    raw = np.zeros((1, 16, 16, 7), np.float32)  # p = 0.5 everywhere: every class pays
    _, plain = detection_loss(tf.constant(target), tf.constant(raw))
    _, only_red = detection_loss(tf.constant(target), tf.constant(raw), (0.0, 1.0, 0.0))
    _, doubled = detection_loss(tf.constant(target), tf.constant(raw), (2.0, 2.0, 2.0))
    _, platelets_up = detection_loss(tf.constant(target), tf.constant(raw), (1.0, 1.0, 3.0))
    assert float(doubled["heat"]) == pytest.approx(2 * float(plain["heat"]), rel=1e-5)
    assert 0 < float(only_red["heat"]) < float(plain["heat"]) < float(platelets_up["heat"])
