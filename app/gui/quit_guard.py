"""Quitting while a batch job runs (detection, classification, an import,
an export, a report, a retrain) asks first: closing cancels the job, and
a technician who pressed Ctrl+Q by habit would lose minutes of work.
Every edit is saved as it is made, so with nothing running closing never
asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from app.gui.questions import ask_before

if TYPE_CHECKING:
    from app.gui.main_controller import MainController

TITLE = "A job is running"


def running_jobs(main: MainController) -> list[str]:
    """What is running that quitting would stop, in the technician's words."""
    jobs = []
    if main.models.running:
        jobs.append(main.models.title.lower() or "a model run")
    if main.adding_images:
        jobs.append("adding images")
    dialog = main.data.active_dialog  # an import, an export or a report
    if dialog is not None and getattr(dialog, "running", False):
        jobs.append(getattr(dialog, "doing", "") or dialog.windowTitle().lower())
    retrain = main.retraining.retrain_dialog
    if retrain is not None and getattr(retrain, "running", False):
        jobs.append("retraining the classifier")
    return jobs


def quit_question(jobs: list[str]) -> str:
    listed = jobs[0] if len(jobs) == 1 else ", ".join(jobs[:-1]) + " and " + jobs[-1]
    return (f"HemaLabel is still {listed}.\n\nQuitting cancels it: what it has finished is kept, "
            "the rest is not done. Your own edits are all saved.")


def ask_quit(parent: QWidget, jobs: list[str]) -> bool:
    """Cancel the Job and Quit, or Keep Working (the default, and Esc)."""
    return ask_before(parent, TITLE, quit_question(jobs), "Cancel the Job and &Quit", "&Keep Working",
                      name="quitWhileRunning")
