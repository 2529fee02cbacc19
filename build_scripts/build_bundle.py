"""Build the desktop bundle with PyInstaller, then prove it works.

    uv run --group build python build_scripts/build_bundle.py [--onefile] [--compare-full]

Builds build_scripts/hemalabel.spec into dist/, reports the bundle's size
(and, with --compare-full, the size without the spec's excludes), runs the
bundle's `--self-test` offscreen, and times its cold start to a shown window.
Exits non-zero if the build or the self-test fails.  The same script runs on
Windows, macOS and Linux (see .github/workflows/bundles.yml).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "build_scripts" / "hemalabel.spec"


def build(dist: Path, work: Path, *flags: str) -> None:
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
               "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    if flags:
        command += ["--", *flags]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    # Symbolic links inside the bundle point at files already counted.
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def executable(dist: Path, onefile: bool) -> Path:
    name = "hemalabel.exe" if sys.platform == "win32" else "hemalabel"
    return dist / name if onefile else dist / "hemalabel" / name


def run_self_test(program: Path) -> tuple[int, float | None]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    result = subprocess.run([str(program), "--self-test"], env=env, capture_output=True, text=True, timeout=600)
    print(result.stdout + result.stderr[-4000:], flush=True)
    shown = re.search(r"window: shown (\d+) ms after start", result.stdout)
    print(f"self-test took {time.perf_counter() - started:.1f} s, exit status {result.returncode}")
    return result.returncode, (int(shown.group(1)) / 1000 if shown else None)


def cold_start_seconds(program: Path, runs: int = 3) -> float:
    """Process start to the window shown, as `--self-test` reports it, with
    the models skipped: the median of several runs."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEMALABEL_SELF_TEST_WINDOW_ONLY": "1"}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run([str(program), "--self-test"], env=env, capture_output=True, text=True, timeout=120)
        if "window: shown" not in result.stdout:
            raise SystemExit(f"window did not show:\n{result.stdout}\n{result.stderr[-2000:]}")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onefile", action="store_true", help="build one file instead of a folder")
    parser.add_argument("--compare-full", action="store_true", help="also build without excludes, to compare sizes")
    args = parser.parse_args()

    dist, work = ROOT / "dist", ROOT / "build"
    flags = ["--onefile"] if args.onefile else []
    if args.compare_full:
        full_dist = ROOT / "dist-full"
        shutil.rmtree(full_dist, ignore_errors=True)
        build(full_dist, work, *flags, "--full")
        full_size = size_mb(full_dist)
        shutil.rmtree(full_dist, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)
    build(dist, work, *flags)
    lean_size = size_mb(dist)
    program = executable(dist, args.onefile)

    status, _ = run_self_test(program)
    start = cold_start_seconds(program)
    print("\n== bundle figures ==")
    print(f"platform:            {sys.platform}")
    print(
        f"bundle size:         {lean_size:.0f} MB"
        + (f" (without excludes: {full_size:.0f} MB)" if args.compare_full else "")
    )
    print(f"cold start to window (median of 3, models not loaded): {start:.2f} s")
    print(f"self-test:           {'passed' if status == 0 else f'FAILED (exit {status})'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
