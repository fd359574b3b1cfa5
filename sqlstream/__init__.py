"""The front door: the Session API, the CLI and the REPL.

>>> import sqlstream
>>> session = sqlstream.connect()          # in-memory catalog; connect("cat.duckdb") persists
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlstream.session import Session, connect

__all__ = ["Session", "connect"]


def __getattr__(name: str) -> Any:
    """``Session`` and ``connect``, imported on first use rather than with the package, so
    that the ``sqlstream`` command (:mod:`sqlstream.entry`) decides how the engine is
    loaded before any of it is."""
    if name in __all__:
        from sqlstream import session

        return getattr(session, name)
    raise AttributeError(f"module 'sqlstream' has no attribute {name!r}")
