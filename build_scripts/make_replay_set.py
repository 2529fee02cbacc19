"""Write the replay set that ships beside the bundled classifier
(core/retraining/bundled_replay.py) from ../shared/data/pbc:

    uv run python -m build_scripts.make_replay_set [--per-class 150] [--check-per-class 30]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from core.retraining.bundled_replay import BUNDLED_NAME, write_replay_set
from core.training.config import TrainConfig
from core.training.datasets import source_splits

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "models" / "hemalabel-wbc.train.json"))
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--check-per-class", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "resources" / "replay" / BUNDLED_NAME))
    args = parser.parse_args()
    config = TrainConfig.load(args.config)
    source = next(s for s in config.sources if s.type == "pbc")
    source.path = str(ROOT.parent / "shared" / "data" / "pbc")
    splits = source_splits(source, config.classes, config.seed)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    counts = write_replay_set(splits, out, config.input_size, config.crop_margin, args.per_class,
                              args.check_per_class, config.seed)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    print(f"{out}: {counts}, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
