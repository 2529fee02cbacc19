"""The Qt window.  Start with launch.py; the pieces, each small:

    main_window.py       layout only: docks, menus, toolbar, status bar
    main_controller.py   wires the window to an open project (open, navigate, undo, jobs, banners)
    actions.py           every command with its shortcut; Help is generated from it
    session.py           an open project: the store, a WAL reader, store events batched onto the GUI thread
    worker.py            the one worker helper: a core generator job on QThreadPool -> Qt signals
    model_controller.py  detect / classify runs through the worker, with progress and Cancel
    model_provider.py    the real models, imported lazily (TensorFlow loads on first use); fakes for tests
    slide_browser.py     slide list model, delegate and view;  thumbnails.py  lazy background thumbnails
    inspector.py         the selected cell: crop, top-3 classes, source, model version
    canvas/              slide_view.py (zoom, pan, gestures), cell_item.py (boxes), tiled_image.py
                         (levels + tiles), canvas_controller.py (store <-> items, edits)
    imagery.py           decoding for the viewer (Pillow, or OpenCV past Pillow's bomb guard), pyramid levels
    presentation.py      colours, tags and status words shared by all views
    settings.py          QSettings: recent projects, layout, confidence threshold, kinds shown
"""
