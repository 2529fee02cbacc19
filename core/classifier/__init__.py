"""The white-cell classifier: model cards, the model resolver and the
Classifier (a core.inference.CellClassifier).  Importing this package does
not load TensorFlow; loading a model does.

    from core.classifier import load_classifier
    classifier = load_classifier()          # default model, user folder first
    probabilities = classifier.predict(crops)
"""

from core.classifier.card import ModelCard, ModelCardError, read_card, write_card
from core.classifier.model import Classifier, load_classifier
from core.classifier.resolver import DEFAULT_MODEL_NAME, available_models, resolve_model
from core.resources import user_models_dir

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Classifier",
    "ModelCard",
    "ModelCardError",
    "available_models",
    "load_classifier",
    "read_card",
    "resolve_model",
    "user_models_dir",
    "write_card",
]
