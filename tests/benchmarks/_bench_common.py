"""Shared set-up for the GUI benchmarks: a project of N 640x480 slides
(BCCD fields when ../shared/data is there, generated ones otherwise)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "app")]
BCCD = ROOT.parent / "shared" / "data" / "bccd" / "JPEGImages"


def make_project(count: int, work: Path | None = None) -> Path:
    from conftest import make_slide_image  # tests/app/conftest.py

    from core.importing import import_source
    from core.jobs import run_job
    from core.store import ProjectStore

    work = work or Path(tempfile.mkdtemp(prefix="hemalabel-bench-"))
    os.environ.setdefault("HEMALABEL_SETTINGS", str(work / "settings.ini"))
    folder = work / "slides"
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(BCCD.glob("*.jpg"))[:count] if BCCD.is_dir() else []
    for index in range(count):
        if index < len(sources):
            shutil.copy(sources[index], folder / f"s{index:04d}.jpg")
        else:
            make_slide_image(folder / f"s{index:04d}.png", 640, 480, seed=index)
    project = folder / "bench.hemalabel"
    with ProjectStore.create(project) as store:
        run_job(import_source(store, folder, "folder"))
    return project
