"""The cell detector: a small CenterNet-style Keras network that proposes
white cells, red cells and platelets, with the numpy code around it (target
encoding, decoding, NMS, tiling, evaluation) and its training job.

TensorFlow is imported lazily inside the functions that need it, so importing
this package (for NMS or evaluation, say) stays cheap."""
