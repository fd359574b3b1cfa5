"""The front door: the Session API, the CLI and the REPL.

>>> import sqlstream
>>> session = sqlstream.connect()          # in-memory catalog; connect("cat.duckdb") persists
"""

from sqlstream.session import Session, connect

__all__ = ["Session", "connect"]
