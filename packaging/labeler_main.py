"""The bundle's entry point: the `labeler` command, frozen.

``freeze_support`` first: imports and exports run work in spawned processes, which in a
frozen app re-run this executable; it turns those runs into workers instead of a second CLI.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from labeler.cli import main

    sys.exit(main())
