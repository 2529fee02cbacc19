"""One module per command.  Each has NAME and register(subparsers), which adds
its parser and sets `handler`.  Add a command by adding its module here."""

from app.cli.commands import (
    audit_cmd,
    classify_cmd,
    detect_cmd,
    evaluate_cmd,
    evaluate_detector_cmd,
    export_cmd,
    import_cmd,
    info_cmd,
    migrate_cmd,
    models_cmd,
    recover_cmd,
    report_cmd,
    train_box_refiner_cmd,
    train_cmd,
    train_detector_cmd,
    tune_detector_cmd,
)

ALL = [
    import_cmd,
    export_cmd,
    info_cmd,
    report_cmd,
    audit_cmd,
    recover_cmd,
    migrate_cmd,
    detect_cmd,
    classify_cmd,
    evaluate_cmd,
    evaluate_detector_cmd,
    train_cmd,
    train_detector_cmd,
    tune_detector_cmd,
    train_box_refiner_cmd,
    models_cmd,
]
NAMES = frozenset(command.NAME for command in ALL)
