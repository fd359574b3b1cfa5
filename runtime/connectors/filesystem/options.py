"""What the ``filesystem`` source and sink share (their options are parsed and checked by
``catalog.connectors.filesystem``)."""

from __future__ import annotations

import os

CHUNK_RECORDS = 65536
META_KEYS = ("file.path", "file.name")


def local_path(path: str) -> str:
    """A local path from ``path`` (``file://`` URLs too), absolute."""
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("file:"):
        path = path[len("file:") :]
    return os.path.abspath(os.path.expanduser(path))
