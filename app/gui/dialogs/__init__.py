"""Standalone dialogs the main window opens from its menus."""
