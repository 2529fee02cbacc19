"""Models > Retrain… and Models > Models…: the GUI of the retrain loop.

    controller.py      wires the two menu actions to the dialogs; drops the
                       loaded classifier after a promotion or rollback
    backend.py         the one place that imports core.retraining (tests
                       replace its functions with fakes)
    prefs.py           the retrain settings remembered in QSettings
    retrain_dialog.py  the dialog: tabs, Start / Cancel, the job
    queue_tab.py, settings_form.py, training_tab.py, results_tab.py,
    insights_tab.py    one tab each, layout and filling only
    tables.py          small table helpers shared by the tabs
    models_dialog.py   the list of model versions

core.retraining is imported only when a dialog opens, so the window starts
without it (and without whatever it pulls in)."""
