# PyInstaller runtime hook: runs before the app's own code inside the bundle.
# TensorFlow's C++ start-up chatter is noise to a technician; warnings and
# errors still show.  Qt must find its plugins inside the bundle only.
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HEMALABEL_FROZEN", "1")
