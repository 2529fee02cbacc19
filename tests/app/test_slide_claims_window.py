"""Two windows on one server project: the slide one of them shows is
claimed; the other sees who has it in a banner, shows it read-only, takes
it over with a reason (which `hemalabel audit` then shows), and each
window's leaving or closing gives its claims back."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_server_project
from PySide6.QtCore import Qt

from app.cli.main import main
from app.gui import main_controller as main_controller_module
from app.gui import slide_claims
from core.identity import Identity
from core.store import ProjectStore, SlideLockedError

AB = Identity("AB", "bench-2")
CD = Identity("CD", "bench-5")
REASON = "AB is at the haematology meeting"


def _open_as(open_window, monkeypatch: pytest.MonkeyPatch, address: str, identity: Identity):  # noqa: ANN001, ANN202
    monkeypatch.setattr(main_controller_module, "window_identity", lambda: identity)
    return open_window(address)


def test_a_second_window_sees_the_claim_takes_it_over_and_the_audit_trail_says_so(
    qtbot, open_window, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    make_server_project(postgres_url, tmp_path)
    first_window, first = _open_as(open_window, monkeypatch, postgres_url, AB)
    second_window, second = _open_as(open_window, monkeypatch, postgres_url, CD)
    assert first.slide is not None and first.canvas.editable and not first_window.claim_banner.isVisible()
    second.show_slide_id(first.slide.id)
    slide_id = first.slide.id

    marked = second_window.slide_model
    assert marked.claim(slide_id) is not None and marked.claim(slide_id).who == "AB"
    tip = marked.data(marked.index(marked.row_of(slide_id)), Qt.ItemDataRole.ToolTipRole)
    assert "In review by AB on bench-2 since" in tip

    banner = second_window.claim_banner
    assert banner.isVisible() and "In review by AB on bench-2 since" in banner.label.text()
    assert banner.button.isVisible() and banner.button.text() == "Take Over\u2026"
    assert not second.canvas.editable and not second_window.actions["delete"].isEnabled()
    (cell,) = second.session.store.cells(slide_id)
    with pytest.raises(SlideLockedError, match="in review by AB on bench-2"):
        second.session.store.set_label([cell.id], "monocyte")

    # Cancelled: nothing taken, nothing recorded.
    monkeypatch.setattr(slide_claims, "ask_take_over_reason", lambda parent, holder: None)
    banner.button.click()
    assert banner.isVisible()
    monkeypatch.setattr(slide_claims, "ask_take_over_reason", lambda parent, holder: REASON)
    banner.button.click()
    assert not banner.isVisible() and second.canvas.editable
    assert "Took this slide over from AB on bench-2" in second_window.statusBar().currentMessage()

    # The take-over is announced: the first window shows it within a second, not at its next beat.
    qtbot.waitUntil(first_window.claim_banner.isVisible, timeout=1000)
    assert "In review by CD on bench-5" in first_window.claim_banner.label.text()
    assert not first.canvas.editable

    assert main(["audit", "--project", postgres_url]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if "Took over" in line]
    assert len(printed) == 1 and REASON in printed[0] and "held by AB on bench-2" in printed[0]
    assert "CD" in printed[0] and "bench-5" in printed[0]

    # Leaving the slide gives it back; closing the project gives back every claim.
    other = next(slide.id for slide in second.session.reader.slides() if slide.id != slide_id)
    second.show_slide_id(other)
    first.claims.beat()
    assert not first_window.claim_banner.isVisible() and first.canvas.editable
    first.show_slide_id(other)
    assert first_window.claim_banner.isVisible()
    first.claims.beat()
    assert first_window.slide_model.claim(other).who == "CD" and first_window.slide_model.claim(slide_id) is None
    second.close_project()
    first.claims.beat()
    assert first_window.slide_model.claim(other) is None
    assert not first_window.claim_banner.isVisible() and first.canvas.editable
    with ProjectStore.open(postgres_url, read_only=True) as reader:
        assert [row["who"] for row in reader.raw_rows("claims")] == ["AB"]


def test_a_file_project_claims_nothing_in_the_window(open_window, project_path: Path) -> None:
    window, controller = open_window(project_path)
    assert controller.slide is not None and not controller.claims.active
    assert controller.session.store.raw_rows("claims") == []
    assert not window.claim_banner.isVisible()
