"""The allocator of Arrow's buffers in a process that runs a job's operators.

pyarrow's default pool on Linux is mimalloc, which hands a freed buffer of a few MB back to
the kernel at once (``madvise(MADV_DONTNEED)``, 1.5-1.9 GB over a 3M-event Nexmark q18) and
maps the next ones in transparent huge pages, each 2 MB zeroed by the kernel at its first
touch: a job whose every batch builds and drops tens of MB of strings (a Top-1 over wide
rows, q18) spent 1.3-1.75 s of its ~4.8 CPU s as system time, zeroing pages. pyarrow's
jemalloc maps no huge pages, and gives much of what it frees back lazily
(``MADV_FREE``: a page keeps its contents and is reused without a fault until the kernel
needs it): q18's system CPU 0.6-0.7 s, the same answers (benchmarks/README.md, branch
al20). A pool the user chose (``ARROW_DEFAULT_MEMORY_POOL``) is left alone, and so is a
pyarrow built without jemalloc. The ``sqlstream`` command also has jemalloc keep the pages
it frees for the next buffers (``sqlstream/entry.py``): jemalloc reads that option when
pyarrow loads, long before a job starts, so it is set where the command loads the engine.
"""

from __future__ import annotations

import os

import pyarrow as pa

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def use_job_allocator() -> str:
    """Make jemalloc pyarrow's default pool for this process, unless the user chose one;
    the backend now in use. Cheap (~0.05 ms) and idempotent; buffers allocated before keep
    the pool they came from."""
    if os.environ.get(POOL_VARIABLE):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return pa.default_memory_pool().backend_name
    pa.set_memory_pool(pool)
    return pool.backend_name
