"""Flink's JDBC URL (jdbc:postgresql://host:port/db) for a libpq DSN given by the user.

    python3 pg_url.py 'host=... port=... dbname=...'    (or postgresql://user@host:port/db)

Standard library only. Only host, port and dbname go into the URL: Flink's JDBC connector
takes the user name and password as separate options.
"""

from __future__ import annotations

import shlex
import sys
from urllib.parse import urlsplit


def jdbc_url(dsn: str) -> str:
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        host, port, db = parts.hostname or "localhost", parts.port or 5432, parts.path.lstrip("/")
    else:
        fields = dict(tok.split("=", 1) for tok in shlex.split(dsn) if "=" in tok)
        host = fields.get("host") or fields.get("hostaddr") or "localhost"
        port = int(fields.get("port") or 5432)
        db = fields.get("dbname") or fields.get("user") or "postgres"
    return f"jdbc:postgresql://{host}:{port}/{db or 'postgres'}"


if __name__ == "__main__":
    print(jdbc_url(sys.argv[1]))
