import os
import sys

# `python -m labeler` put the current folder first on sys.path. Nothing is imported from it
# (ADR 0080; the same rule as labeler.core.procs.trusted_sys_path, written out here because
# it must run before anything else is imported), unless the installation itself is there.
_here = os.path.normcase(os.path.realpath(os.getcwd()))
_home = os.path.normcase(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
sys.path[:] = [
    p
    for p in sys.path
    if p and os.path.isabs(p) and os.path.normcase(os.path.realpath(p)) not in {_here} - {_home}
]

from labeler.cli import main  # noqa: E402

sys.exit(main())
