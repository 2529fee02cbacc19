"""The model files: what each kind of model's card says, which file is the
model in use, and the registry of the user's retrained versions.

    files            ModelCardError, sha256_of and the card writer all kinds share
    kinds            which kind of model a parsed card describes
    classifier_card  the white-cell classifier's card
    detector_card    the cell detector's card
    screen_card      the lymphoid screen's card
    resolver         a model named or given by path -> its file (user's models first)
    registry         the user's classifier versions: candidates, promote, roll back

Nothing here loads TensorFlow; loading a model is core.classifier's,
core.detection's and core.screen's business.
"""
