"""The committed lymphoid screen: its card, and `hemalabel evaluate --screen`
and `classify --screen` on a few real fields, a blank one among them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main
from core.models.kinds import SCREEN_TASK
from core.models.screen_card import CITATION, read_screen_card
from core.screen.model import load_screen_model
from tests.conftest import REPO_ROOT, real_data_path

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

CARD = REPO_ROOT / "models" / "lymphoid-screen.json"


def test_committed_card_describes_an_optional_cited_model() -> None:
    card = read_screen_card(CARD)
    assert card.task == SCREEN_TASK and card.classes == ["benign", "early", "pre", "pro"]
    assert card.citation == CITATION and "not confirmed" in card.licence
    assert 0.0 < card.blast_threshold < 1.0 and card.target_recall == 0.98
    assert (REPO_ROOT / "models" / card.weights_file).stat().st_size <= 5 * 1024 * 1024
    assert card.metrics["field_sensitivity"] >= 0.98  # on validation fields, as chosen
    model = load_screen_model()
    assert model.threshold == card.blast_threshold


def test_evaluate_screen_on_a_few_fields_and_a_blank_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    source = real_data_path("all-taleqani")
    for label in ("benign", "early", "pre", "pro"):
        (tmp_path / label).mkdir()
        for path in sorted((source / label).iterdir())[:3]:
            shutil.copy(path, tmp_path / label / path.name)
    cv2.imwrite(str(tmp_path / "benign" / "blank.png"), np.full((224, 224, 3), 235, np.uint8))
    assert main(["evaluate", "--screen", "--images", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fields"] == 13
    assert report["fields_without_white_cell"]["benign"] >= 1
    assert report["field_sensitivity"]["of"] == 9 and report["field_specificity"]["of"] == 4
    assert len(report["subtype_confusion"]) == 3
