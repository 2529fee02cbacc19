"""The retrain loop: corrections become training examples, a child process
fine-tunes the model in use on them, the candidate is compared with it, and
the registry (core.models.registry) promotes, discards or rolls back
versions.

    from core.retraining import RetrainSettings, retrain
    from core.models.registry import ModelRegistry
    outcome = run_job(retrain(project_path, RetrainSettings(replay_path=...)))
    ModelRegistry().promote(outcome.candidate.name)
"""

from core.retraining.examples import QueueSummary, queue_summary, training_examples
from core.retraining.insights import Insights, dataset_insights
from core.retraining.job import RetrainError, RetrainOutcome, retrain
from core.retraining.scoring import Comparison, ModelScores
from core.retraining.settings import RetrainSettings

__all__ = [
    "Comparison",
    "Insights",
    "ModelScores",
    "QueueSummary",
    "RetrainError",
    "RetrainOutcome",
    "RetrainSettings",
    "dataset_insights",
    "queue_summary",
    "retrain",
    "training_examples",
]
