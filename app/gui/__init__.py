"""The Qt window.  Start with launch.py; the pieces, each small:

    main_window.py       layout only: docks, menus, toolbar, status bar, the canvas/gallery pages
    main_controller.py   wires the window to an open project (open, navigate, undo, jobs, banners);
                         routes class keys, Tab, A, Delete to the view on show (canvas or gallery)
    review_controller.py the gallery page and the differential dock per project, following the slide; sign-off
    data_controller.py   File > Import, Export (dialogs/) and Report, run through the worker
    actions.py           every command with its shortcut; Help is generated from it
    session.py           an open project: the store, a WAL reader, and THE store-to-Qt bridge
                         (store batches -> one `changed` signal on the GUI thread); every view listens to it
    worker.py            the one worker helper: a core generator job on QThreadPool -> Qt signals
    model_controller.py  detect / classify runs through the worker, with progress and Cancel
    decision_follower.py what runs again after each decision, on a worker: teaching_controller.py (the
                         classifier's instant learning), proposal_lesson_controller.py (the detector's)
    model_provider.py    the real models, imported lazily (TensorFlow loads on first use); fakes for tests
    slide_browser.py     slide list model, delegate and view;  thumbnails.py  lazy background slide thumbnails
    inspector.py         the selected cell: crop, top-3 classes, source, model version
    canvas/              slide_view.py (zoom, pan, gestures), cell_item.py (boxes), tiled_image.py
                         (levels + tiles), canvas_controller.py (store <-> items, edits)
    gallery/             CellGallery: model (cells grouped by class), view, delegate, thumbnails.py (cell crops)
    differential/        DifferentialPanel: live counts, NRBC, target progress, bar chart
    dialogs/             sign-off, import, export (job_dialog.py: their shared form + worker job)
    retrain/             Models > Retrain… (queue, settings, live curves, results, promote/discard,
                         insights) and Models > Models… (versions, promote, discard, roll back)
    imagery.py           core's RGB arrays as QImages, and ImageShown (what the canvas says of its image);
                         reading files and pyramid levels are core's (core/imaging.py, core/image_levels.py)
    presentation.py      colours, tags and status words shared by all views
    style.py             the look, and pyqtgraph's one configuration
    settings.py          QSettings: recent projects, layout, confidence threshold, kinds shown
"""
