"""The white-cell classifier: the Classifier (a core.inference.CellClassifier)
and the network around it; its card and which file is the model in use are
core.models'.  Importing this package does
not load TensorFlow; loading a model does.

    from core.classifier import load_classifier
    classifier = load_classifier()          # default model, user folder first
    probabilities = classifier.predict(crops)
"""

from core.classifier.model import Classifier, load_classifier

__all__ = ["Classifier", "load_classifier"]
