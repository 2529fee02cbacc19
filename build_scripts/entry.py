"""The bundle's entry point.  freeze_support() comes first: training runs in a
child process, and in a frozen bundle that child re-enters here."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.cli.main import main

    sys.exit(main())
