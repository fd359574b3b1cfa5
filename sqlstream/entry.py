"""The ``sqlstream`` command's entry point (and ``python -m sqlstream``'s).

Loading the engine (sqlglot's tables, pyarrow, the plan dataclasses) creates ~50,000
objects that live until the process exits, and next to no garbage. With the collector on,
Python walks that growing heap over and over while it loads, and once more at exit: ~80 ms
of CPU of a one-row ``sqlstream run`` that takes 0.4 s. So the command imports the engine
with the collector off and then freezes what it loaded (``gc.freeze``: kept out of every
later collection; reference counting still frees it). Only the command does this; a
program that imports ``sqlstream`` keeps its collector as it had it.

The plan dataclasses' methods are compiled when each class is defined, ~65 ms of that load:
the command keeps their code in a file as bytecode is kept (``dataclass_code``).

Three more costs of a short job belong to the process, not to the engine, and the command
avoids them too (``command``; ``main`` alone is the CLI without them, for callers that go
on after it):

- numpy's OpenBLAS starts a thread per core when numpy loads, and each spins ~0.1 s of CPU
  waiting for matrix work that the engine never gives it (10% of a Nexmark q3 process).
  The engine loads with ``OPENBLAS_NUM_THREADS=1`` unless the user chose a number of
  threads (that variable, or ``GOTO_NUM_THREADS`` or ``OMP_NUM_THREADS``, which OpenBLAS
  reads too); it is taken away again afterwards, so that the processes a job starts see
  the environment as it was.
- Arrow's jemalloc (the pool a job allocates from, ``runtime/memory.py``) gives the pages of a
  freed buffer back to the kernel (``MADV_DONTNEED``) about a second after it has marked them
  reusable (``MADV_FREE``), so that a batch's next buffer of tens of MB is faulted in and
  zeroed page by page again: combining a Top-1's four reads of 65,536 wide bids into one
  batch cost 18 ms of CPU that way, 2.2 ms in pages kept. The engine loads with
  ``JE_ARROW_MALLOC_CONF=muzzy_decay_ms:-1`` (read once, when pyarrow loads), unless the user
  set that variable: freed pages stay marked reusable, which the kernel takes back only when
  it needs memory. Nexmark q18, q19 and q9 processes: 30-45% fewer page faults, 5-10% less
  CPU; their peak resident memory grows by 130-460 MB, pages the kernel may take back at
  any time (q9: 1,653 MB resident, 703 MB of it ``LazyFree``, against 1,211 and 22).
  Taken away again afterwards, as the OpenBLAS variable is.
- numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) for every
  array of 4 MB or more: here, the file source's read buffers of 16-26 MB. Where the kernel
  finds no free 2 MB page it compacts memory first, at the fault: the first read of a file
  took up to 0.26 s of system CPU instead of ~0.02 s, and half of eight Nexmark q3
  processes 0.44-0.79 s of system CPU instead of ~0.2 (their mean wall time 0.99 s against
  0.80 s without). The engine loads with ``NUMPY_MADVISE_HUGEPAGE=0`` unless the user set
  it (numpy reads it once, when it loads), as the jemalloc pool maps no huge pages either
  (``runtime/memory.py``); taken away again afterwards.
- Tearing the interpreter down at exit (every module's objects freed one by one, DuckDB's
  catalogs destroyed) takes ~40 ms after the last job has finished. Once the CLI has
  returned (its jobs ended, their sinks committed and closed, the session closed),
  Python's own exit runs as usual, the threads joined and every ``atexit`` handler run,
  up to the last handler, which is the command's: it flushes stdout and stderr and
  leaves with ``os._exit``, skipping only the freeing of memory the system reclaims.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Callable
from typing import NoReturn

#: What the command sets while the engine loads (see the module docstring): the variable,
#: its value, and the variables by which the user may have chosen otherwise (OpenBLAS reads
#: its number of threads from any of three, first found first). Each is read once, when
#: numpy or pyarrow loads.
_LOAD_ENVIRONMENT = (
    ("OPENBLAS_NUM_THREADS", "1", ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")),
    ("JE_ARROW_MALLOC_CONF", "muzzy_decay_ms:-1", ("JE_ARROW_MALLOC_CONF",)),
    ("NUMPY_MADVISE_HUGEPAGE", "0", ("NUMPY_MADVISE_HUGEPAGE",)),
)

#: The exit status the command leaves with; None until the CLI has returned.
_status: int | None = None


def load() -> Callable[[], int]:
    """Import the engine as the command does (dataclass methods compiled once for all
    runs, ``dataclass_code``; collector off, then frozen; one BLAS thread; jemalloc
    keeping freed pages; numpy asking for no huge pages) and return the CLI's ``main``."""
    from sqlstream import dataclass_code  # before any dataclass of the engine is defined

    methods = dataclass_code.install()
    if methods is not None and not sys.dont_write_bytecode:
        atexit.register(dataclass_code.save, methods)
    collecting = gc.isenabled()
    chosen = [
        (name, value) for name, value, users in _LOAD_ENVIRONMENT if os.environ.keys().isdisjoint(users)
    ]
    gc.disable()
    os.environ.update(chosen)
    try:
        import numpy  # noqa: F401 - here, while the variables are set: every job needs it
        import pyarrow  # noqa: F401 - likewise

        _parse_options_docs_once()
        from sqlstream.cli import main as cli_main
    finally:
        for name, _ in chosen:
            del os.environ[name]
        gc.freeze()
        if collecting:
            gc.enable()
    return cli_main


def _parse_options_docs_once() -> None:
    """pyarrow.compute wraps each of its ~290 functions when it loads, and for each parses
    the docstring of the function's options class (numpydoc's ``NumpyDocString``, which
    pyarrow vendors): the same few dozen docstrings parsed again and again, ~13 ms of the
    ~38 ms that loading pyarrow.compute takes, in every job that computes in Arrow. The
    command parses each once: pyarrow only reads the parsed parameters, to write the
    wrappers' ``__doc__``, which come out as before."""
    try:
        from pyarrow.vendored import docscrape
    except ImportError:  # a pyarrow without it: loads as it does
        return
    parse = getattr(docscrape, "NumpyDocString", None)
    if not isinstance(parse, type):
        return
    parsed: dict[str, object] = {}

    def parse_once(docstring: object, *args: object, **kwargs: object) -> object:
        if args or kwargs or not isinstance(docstring, str):  # not pyarrow.compute's call
            return parse(docstring, *args, **kwargs)
        if docstring not in parsed:
            parsed[docstring] = parse(docstring)
        return parsed[docstring]

    docscrape.NumpyDocString = parse_once


def main() -> int:
    return load()()


def command() -> NoReturn:
    """The ``sqlstream`` command: ``main``, then exit with its status without tearing the
    interpreter down (see the module docstring)."""
    global _status
    atexit.register(_leave)  # registered before anything the engine registers: runs last
    _status = main()
    sys.exit(_status)


def _leave() -> None:
    """The last ``atexit`` handler: every other one has run, non-daemon threads have been
    joined. Flush what is buffered and leave; if flushing fails (a closed pipe), let
    Python's own exit report it as it would."""
    if _status is None:  # the CLI did not return (an error escaped it): exit as usual
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(_status)
