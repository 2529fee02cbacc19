"""retrain(): from a project's queue to a registered candidate model.

The parent (the GUI's worker thread or the command line) chooses the cells,
starts a spawned child process that fine-tunes and scores, relays its
messages as Progress, and registers the candidate only when the child
finished cleanly.  Cancel terminates the child; a crash, a cancel or a full
disk leave nothing behind but the log, and never touch the model in use.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from core.image_roots import NO_IMAGE_ROOTS, ImageRoots
from core.jobs import Cancelled, CancelToken, Job, Progress
from core.models.classifier_card import card_path_for, read_card
from core.models.files import ModelCardError
from core.models.registry import ModelRegistry, ModelVersion, RegistryError
from core.models.resolver import resolve_model
from core.retraining.child import ChildRequest, run_child
from core.retraining.examples import candidate_classes, drop_contradictions, training_examples
from core.retraining.out_of_fold import slide_folds
from core.retraining.scoring import Comparison, ModelScores, recommend
from core.retraining.settings import RetrainSettings
from core.store import ProjectStore
from core.store.address import ProjectLocation
from core.training.samples import LabelledCell

# The child reports at least once per epoch; this long without a message or
# an exit means it hung.
POLL_SECONDS = 0.2
# Each retrain stages its candidate in `.<name>-XXXXXXXX` in the models
# folder, holding an operating-system lock on this file inside (with its
# pid, for a person looking): the lock dies with the process, so a staging
# folder whose lock can be taken was left by a retrain that was killed.
STAGING_OWNER = "owner.lock"
_STAGING_NAME = re.compile(r"^\..+-[a-z0-9_]{8}$")
# A staging folder without an owner file (made before owner files were, or
# by a retrain killed between the two) is stale once this old.
UNOWNED_STALE_SECONDS = 3600.0


class RetrainError(Exception):
    """A retrain that could not produce a candidate, with what to do."""


@dataclass(slots=True)
class RetrainOutcome:
    candidate: ModelVersion
    comparison: Comparison
    history: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0
    # Both models on the replay's validation cells: what the candidate forgot.
    replay_check: dict[str, Any] | None = None
    # The temperature refitted on the out-of-fold predictions, and the
    # calibration error before and after (None: too few cells to refit).
    calibration: dict[str, Any] | None = None

    def forgetting(self) -> str | None:
        """'original data (240 cells): accuracy 99.2% -> 98.8%', or None."""
        check = self.replay_check
        if not check:
            return None
        return (f"original data ({check['cells']} cells not trained on): accuracy "
                f"{check['base_accuracy']:.1%} -> {check['candidate_accuracy']:.1%}")


def retrain(project: ProjectLocation, settings: RetrainSettings, cancel: CancelToken | None = None,
            registry: ModelRegistry | None = None, *, image_roots: ImageRoots = NO_IMAGE_ROOTS) -> Job[RetrainOutcome]:
    """Fine-tune the classifier on the project's reviewed cells, their
    images looked for through the user's `image_roots`."""
    cancel = cancel or CancelToken()
    registry = registry or ModelRegistry()
    started = time.monotonic()
    try:
        settings.check()
    except ValueError as error:
        raise RetrainError(f"retrain settings: {error}") from None
    _check_paths(settings)
    remove_stale_staging(registry.folder)
    yield Progress(0, 1, "choosing the cells")
    base_path, base_name, base_card = _base_model(settings, registry)
    with ProjectStore.open(project, read_only=True) as store:
        store.image_roots = image_roots
        classes = candidate_classes(store, list(base_card.classes))
        examples = training_examples(store, classes)
        taxonomy_json = store.taxonomy.to_json()
    examples, contradictions = drop_contradictions(examples)
    for line in contradictions:
        yield Progress(0, 1, f"left out of training: {line}")
    learnable = _learnable_classes(classes, base_card.classes, examples, settings.min_new_class_cells)
    for name, count in sorted(Counter(e.label for e in examples if e.label not in learnable).items()):
        yield Progress(0, 1, f"left out of training: {name}, {count} reviewed cells; a new class needs "
                             f"{settings.min_new_class_cells} to become an output")
    classes = learnable
    examples = [e for e in examples if e.label in classes]
    _check_enough(examples, settings, project)
    folds = slide_folds([e.group for e in examples], settings.folds, settings.seed)
    name = registry.next_name(base_name)
    staging, owner = new_staging(registry.folder, name)
    request = ChildRequest(
        base=str(base_path), base_name=base_name, name=name, out_dir=str(staging), classes=classes,
        cells=examples, folds=folds, settings=settings.to_dict(), taxonomy_json=taxonomy_json,
    )
    fits = max(folds) + 2
    yield Progress(0, settings.epochs * fits, f"fine-tuning on {len(examples)} reviewed cells from "
                   f"{len({c.group for c in examples})} slides: {fits - 1} out-of-fold fits, then the candidate")
    log_lines: list[str] = []
    try:
        done = yield from run_in_child(run_child, request, cancel, log_lines, settings.epochs * fits)
        outcome = _register(done, request, registry, staging, log_lines, started)
    finally:
        owner.close()  # before the removal: Windows cannot delete an open file
        shutil.rmtree(staging, ignore_errors=True)
    yield Progress(
        settings.epochs * fits,
        settings.epochs * fits,
        f"candidate {outcome.candidate.name}: {outcome.comparison.recommendation}",
    )
    return outcome


def _base_model(settings: RetrainSettings, registry: ModelRegistry) -> tuple[Path, str, Any]:
    try:
        if settings.base is None:
            version = registry.current()
            path, name = version.path, version.name
        else:
            path = resolve_model(settings.base)
            name = path.stem
        return path, name, read_card(card_path_for(path))
    except (ModelCardError, RegistryError) as error:
        raise RetrainError(f"the model to fine-tune: {error}") from None


def _learnable_classes(
    classes: list[str], model_classes: list[str], examples: list[LabelledCell], minimum: int
) -> list[str]:
    """The model's classes, plus each new taxonomy class with enough examples."""
    counts = Counter(e.label for e in examples)
    return [c for c in classes if c in model_classes or counts[c] >= minimum]


def _check_enough(examples: list[LabelledCell], settings: RetrainSettings, project: ProjectLocation) -> None:
    slides = {e.group for e in examples}
    if len(examples) < settings.min_examples:
        raise RetrainError(
            f"{project}: {len(examples)} reviewed cells so far; a retrain needs at least {settings.min_examples}. "
            f"Confirm or correct {settings.min_examples - len(examples)} more cells (the minimum is a retrain setting)."
        )
    kinds = sorted({e.label for e in examples})
    if len(kinds) == 1:
        raise RetrainError(
            f"{project}: all {len(examples)} reviewed cells are {kinds[0]}; a model taught one class learns only to "
            "say it. Review cells of at least one more class first."
        )
    if len(slides) < 2:
        raise RetrainError(
            f"{project}: all {len(examples)} reviewed cells come from one slide; review cells on at least one more "
            "slide so the new model can be checked on slides it did not learn from."
        )


def _check_paths(settings: RetrainSettings) -> None:
    """Fail before starting a process when a named path is not there (the
    child reads what is in them)."""
    for what, path in (("replay data", settings.replay_path), ("standard set", settings.standard_set)):
        if path and not Path(path).exists():
            raise RetrainError(f"{what}: {path}: not found")


def new_staging(folder: Path, name: str) -> tuple[Path, IO[bytes]]:
    """A fresh staging folder in `folder` (made if need be) and its owner
    file, locked for this process's life."""
    from core.project_lock import _try_lock

    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder))
    owner = open(staging / STAGING_OWNER, "wb")  # noqa: SIM115 - held until the retrain ends
    try:
        _try_lock(owner)
        owner.write(f"{os.getpid()}\n".encode())
        owner.flush()
    except OSError:
        owner.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, owner


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging folders of retrains that were killed (their owner
    gone); a running retrain's, in this process or another, is left alone."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed  # no models folder yet: nothing staged
    for path in entries:
        if _STAGING_NAME.match(path.name) and path.is_dir() and _is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
    return removed


def _is_stale(staging: Path) -> bool:
    from core.project_lock import _try_lock, _unlock

    owner = staging / STAGING_OWNER
    try:
        stream = open(owner, "r+b")  # noqa: SIM115
    except FileNotFoundError:
        try:
            return time.time() - staging.stat().st_mtime > UNOWNED_STALE_SECONDS
        except OSError:
            return False
    except OSError:
        return False  # unreadable (Windows: open elsewhere): not ours to judge
    with stream:
        if not _try_lock(stream):
            return False  # its retrain is running
        try:
            pid = int(stream.read(32).split()[0])
        except (ValueError, IndexError, OSError):
            pid = None
        _unlock(stream)
    # Where the file system takes no locks, the lock always looks free:
    # the pid then says whether its retrain still runs.
    return pid is None or not _process_alive(pid)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False  # the lock decided; os.kill(pid, 0) would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: alive
    return True


def run_in_child(target: Callable[[Any, Connection], None], request: Any, cancel: CancelToken,
                 log_lines: list[str], epochs: int) -> Job[dict[str, Any]]:
    """Run `target(request, outbox)` (a child's entry point, such as
    run_child) in a spawned process and relay its messages as Progress;
    returns its "done" value.  Cancel, an error message or a child that
    dies end it with the child stopped."""
    # Spawn, not fork: a forked TensorFlow or Qt process is not safe, and
    # spawn is what Windows and macOS do anyway.
    context = multiprocessing.get_context("spawn")
    # A pipe whose one writing end is the child's: a child that dies, even
    # halfway through a message, ends the stream.  With a Queue the parent
    # holds a writing end too, and would wait for the rest of that message
    # for ever.
    inbox, outbox = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(request, outbox), name="hemalabel-retrain", daemon=True)
    child.start()
    outbox.close()
    try:
        while True:
            if cancel.cancelled:
                raise Cancelled()  # the finally below stops the child
            if not inbox.poll(POLL_SECONDS):
                continue
            try:
                kind, value = inbox.recv()
            except (EOFError, OSError):
                child.join(5)
                raise RetrainError(
                    _with_log(f"training stopped unexpectedly (exit code {child.exitcode})", log_lines)
                ) from None
            if kind == "log":
                log_lines.append(value)
                yield Progress(
                    0, epochs, value.splitlines()[-1] if value else "", payload={"kind": "log", "line": value}
                )
            elif kind == "epoch":
                yield Progress(int(value["epoch"]), int(value.get("epochs", epochs)), _describe(value),
                               payload={"kind": "epoch", **value})
            elif kind == "error":
                raise RetrainError(_with_log(f"{value}; the model in use is unchanged", log_lines))
            elif kind == "done":
                done: dict[str, Any] = value
                return done
    finally:
        inbox.close()
        if child.is_alive():
            child.terminate()
        child.join(10)


def _describe(row: dict[str, Any]) -> str:
    if "text" in row:
        return str(row["text"])  # a child that words its own epochs (the detector's)
    fit = f"fit {row['fit']} of {row['fits']}, " if "fit" in row else ""
    text = f"{fit}epoch {row['epoch']}/{row['epochs']}: loss {row['loss']:.3f}, accuracy {row.get('accuracy', 0):.3f}"
    if "val_accuracy" in row:
        text += f", validation accuracy {row['val_accuracy']:.3f}"
    return text + f"; about {row['eta_seconds']:.0f} s left"


def _with_log(message: str, log_lines: list[str], tail: int = 15) -> str:
    lines = "\n".join(log_lines).splitlines()[-tail:]
    return message + ("\n--- log ---\n" + "\n".join(lines) if lines else "")


def _register(done: dict[str, Any], request: ChildRequest, registry: ModelRegistry, staging: Path,
              log_lines: list[str], started: float) -> RetrainOutcome:
    comparison = comparison_of(done["scores"])
    candidate = register_staged(registry, staging, request.name, request.base_name, done, comparison.to_dict(),
                                time.monotonic() - started)
    return RetrainOutcome(candidate, comparison, done["history"], "\n".join(log_lines), time.monotonic() - started,
                          done.get("replay_check"), done.get("calibration"))


def register_staged(registry: ModelRegistry, staging: Path, name: str, parent: str, done: dict[str, Any],
                    metrics: dict[str, Any], seconds: float) -> ModelVersion:
    """Move a finished child's <name>.keras and .json from its staging
    folder into the registry's folder and register them as a candidate."""
    try:
        for suffix in (".keras", ".json"):
            shutil.move(str(staging / f"{name}{suffix}"), str(registry.folder / f"{name}{suffix}"))
        return registry.register_candidate(name, parent, done["created_at"], done["trained_on"], metrics,
                                           train_seconds=seconds)
    except OSError as error:
        for suffix in (".keras", ".json"):
            (registry.folder / f"{name}{suffix}").unlink(missing_ok=True)
        raise RetrainError(f"{registry.folder}: could not store the candidate ({error.strerror or error}); "
                           "it was discarded and the model in use is unchanged") from None


def comparison_of(scores: dict[str, Any]) -> Comparison:
    """The child's scores as a Comparison with its advice."""
    pairs: dict[str, tuple[ModelScores, ModelScores] | None] = {}
    for key in ("out_of_fold", "standard"):
        pair = scores.get(key)
        pairs[key] = None if pair is None else (ModelScores.from_dict(pair[0]), ModelScores.from_dict(pair[1]))
    instant = ModelScores.from_dict(scores["instant"]) if scores.get("instant") else None
    text, advised = recommend(pairs["out_of_fold"], pairs["standard"], instant)
    return Comparison(pairs["out_of_fold"], pairs["standard"], text, advised, instant)
