"""Worker processes that import nothing from the user's folders (ADR 0080).

Every process pool of ours takes its multiprocessing context from `context()`. Its processes
(spawn, or children of the fork server) import code from the installation alone, never from
the current folder, a dataset, a project or an export, whatever folder the user runs us in:

- CPython starts every helper interpreter (a spawned worker, the fork server, the resource
  tracker) as ``python -c "from multiprocessing... import ..."``, and ``-c`` puts the current
  folder first on ``sys.path``: a ``multiprocessing/`` package there would run before any of
  our code. Those command lines get ``-P`` (``sys.flags.safe_path``, Python 3.11+), which leaves
  the current folder out and changes nothing else (site-packages, ``.pth`` files, environment).
- A spawned worker then copies the parent's ``sys.path``. Ours arrive without ``''``, relative
  entries and the current folder (which ``python -c`` or ``python -m`` put there), unless the
  installation itself lives in the current folder (a source checkout).

The ``-P`` rule applies to every multiprocessing launch in the process once `context()` was
called (harmless: a spawned child gets its parent's ``sys.path`` back right after it starts);
the ``sys.path`` filter only to the processes of our contexts, so a script that uses Labeler
as a library keeps its own pools as they were. ``fork`` is not offered: a forked child shares
everything the parent imported, and forking beside the window's threads is unsafe.

>>> ctx = context("spawn")
>>> with ProcessPoolExecutor(4, mp_context=ctx) as pool:  # doctest: +SKIP
...     list(pool.map(work, items))
"""

import contextlib
import multiprocessing.context as _mpc
import multiprocessing.spawn as _spawn
import multiprocessing.util as _util
import os
import sys
import threading
from collections.abc import Iterable, Iterator

from labeler.core.errors import LabelerError

# The folder that holds the `labeler` package we run from: trusted even when it is the
# current folder (a source checkout run from its root).
INSTALLATION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ("spawn", "forkserver") if sys.platform != "win32" else ("spawn",)

_LOCK = threading.Lock()
_LOCAL = threading.local()  # .ours: a process of one of our contexts is being started
_ORIGINAL_FLAGS = _util._args_from_interpreter_flags
_ORIGINAL_PREPARATION = _spawn.get_preparation_data


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def trusted_sys_path(path: Iterable[str], cwd: str | None = None) -> list[str]:
    """``path`` without the current folder: ``''``, ``'.'``, every relative entry (they name
    folders below the current one) and the current folder itself, unless the installation is
    there. ``multiprocessing`` writes ``''`` as the folder it was imported in; that goes too."""
    from multiprocessing import process

    here = {_norm(cwd or os.getcwd())}
    if process.ORIGINAL_DIR:
        here.add(_norm(process.ORIGINAL_DIR))
    here.discard(_norm(INSTALLATION))
    return [p for p in path if p and os.path.isabs(p) and _norm(p) not in here]


def _safe_flags() -> list[str]:
    args = _ORIGINAL_FLAGS()
    if "-P" not in args and "-I" not in args:  # -I implies -P
        args.append("-P")
    return args


def _preparation_data(name: str) -> dict:
    data = _ORIGINAL_PREPARATION(name)
    if getattr(_LOCAL, "ours", False) and "sys_path" in data:
        data["sys_path"] = trusted_sys_path(data["sys_path"])
    return data


def _install() -> None:
    # spawn.get_command_line, forkserver.ensure_running and resource_tracker.ensure_running all
    # read `util._args_from_interpreter_flags`, and popen_spawn_*, popen_forkserver and
    # forkserver `spawn.get_preparation_data`, through the module at call time.
    with _LOCK:
        _util._args_from_interpreter_flags = _safe_flags
        _spawn.get_preparation_data = _preparation_data


@contextlib.contextmanager
def _ours() -> Iterator[None]:
    before = getattr(_LOCAL, "ours", False)
    _LOCAL.ours = True
    try:
        yield
    finally:
        _LOCAL.ours = before


class _SpawnProcess(_mpc.SpawnProcess):
    @staticmethod
    def _Popen(process_obj):  # noqa: N802 (multiprocessing's name)
        with _ours():
            return _mpc.SpawnProcess._Popen(process_obj)


class _SpawnContext(_mpc.SpawnContext):
    Process = _SpawnProcess


_CONTEXTS: dict[str, type] = {"spawn": _SpawnContext}

if sys.platform != "win32":

    class _ForkServerProcess(_mpc.ForkServerProcess):
        @staticmethod
        def _Popen(process_obj):  # noqa: N802
            with _ours():  # also starts the fork server itself, the first time
                return _mpc.ForkServerProcess._Popen(process_obj)

    class _ForkServerContext(_mpc.ForkServerContext):
        Process = _ForkServerProcess

    _CONTEXTS["forkserver"] = _ForkServerContext


def context(method: str = "spawn", preload: Iterable[str] = ()) -> _mpc.BaseContext:
    """A multiprocessing context for a pool (``mp_context=``) whose processes import nothing
    from the current folder. ``method`` is ``spawn`` or, except on Windows, ``forkserver``;
    ``preload`` names modules the fork server imports once for all its children."""
    if method not in METHODS:
        raise LabelerError(f"worker processes start with {' or '.join(METHODS)}, not {method!r}")
    _install()
    ctx = _CONTEXTS[method]()
    if preload and method == "forkserver":
        ctx.set_forkserver_preload(list(preload))
    return ctx
