"""What the ``filesystem`` source and sink share (their options are parsed and checked by
``catalog.connectors.filesystem``)."""

from __future__ import annotations

import os

CHUNK_RECORDS = 65536
# The most records one poll reads: what a bounded source feeding a GROUP BY or a Top-N asks
# for (``MAX_FAN_OUT`` chunks, ``runtime/operators/source.py``). Read as one block, not as
# four the source joins after, its wide rows are copied once less and pyarrow is called
# once (Nexmark q17 and q18: 8-15% more events/s, benchmarks/README.md).
MAX_READ_RECORDS = 4 * CHUNK_RECORDS
META_KEYS = ("file.path", "file.name")


def local_path(path: str) -> str:
    """A local path from ``path`` (``file://`` URLs too), absolute."""
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("file:"):
        path = path[len("file:") :]
    return os.path.abspath(os.path.expanduser(path))
