"""Detecting on a whole-slide PNG scan: peak memory and time, the image
decoded whole (as before issue 29 item 8) against read in bands of rows.

    uv run pytest tests/benchmarks/test_large_scan_detection.py -s

HEMALABEL_SCAN_SIDE sets the scan's side (default 20000: 1.2 GB decoded).
Each way runs in a child process of its own (Linux: the peak resident
memory, VmHWM, is restarted once the network is loaded and warm, so what is
reported is the detection's own rise above that); the bundled detector does
the detecting.  Read in bands, the rise must stay under a third of the
decoded image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

SIDE = int(os.environ.get("HEMALABEL_SCAN_SIDE", "20000"))

_CHILD = r"""
import json, sys, time
from pathlib import Path
from core.detection.batch import detect_images
from core.detection.detector import KerasCellDetector
from core.imaging import load_rgb
from core.jobs import run_job
from tests.core.images import smear

way, path = sys.argv[1], Path(sys.argv[2])
detector = KerasCellDetector.load()
detector.detect(smear(1024, 1024))  # the network built and warm


def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024


Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from here
baseline = status("VmRSS")
start = time.perf_counter()
if way == "whole":
    image = load_rgb(path)
    count = len(detector.detect(image))
else:
    count = len(run_job(detect_images(detector, [path])).images[0].detections)
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"way": way, "seconds": seconds, "peak_mb": peak, "network_mb": baseline, "cells": count}))
"""


def _scan(folder: Path) -> Path:
    """A generated smear field tiled to SIDE x SIDE, written with light
    compression (seconds, not minutes)."""
    from tests.core.images import smear

    path = folder / f"scan-{SIDE}.png"
    field = smear(1000, 1000, seed=3)
    reps = -(-SIDE // 1000)
    image = np.tile(field, (reps, reps, 1))[:SIDE, :SIDE]
    cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return path


def _run(way: str, path: Path) -> dict:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, way, str(path)], cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux's /proc")
def test_a_large_scan_is_detected_in_bounded_memory(tmp_path: Path) -> None:
    path = _scan(tmp_path)
    decoded_mb = SIDE * SIDE * 3 / 2**20
    whole = _run("whole", path)
    banded = _run("banded", path)
    print(f"\n{SIDE}x{SIDE} PNG, {decoded_mb:.0f} MB decoded, {path.stat().st_size / 2**20:.0f} MB on disk")
    for result in (whole, banded):
        print(
            f"  {result['way']:>6}: {result['seconds']:6.1f} s, peak {result['peak_mb']:6.0f} MB "
            f"(+{result['peak_mb'] - result['network_mb']:.0f} MB over the warm network's "
            f"{result['network_mb']:.0f} MB), {result['cells']} cells"
        )
    assert banded["cells"] == whole["cells"]
    assert banded["peak_mb"] - banded["network_mb"] < decoded_mb / 3
