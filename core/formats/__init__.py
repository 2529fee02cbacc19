"""Annotation formats: each module reads (and, where it exports, writes) one
format.  Readers validate a whole source before anything touches a project,
so a malformed file rejects the import whole."""
