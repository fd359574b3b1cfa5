"""Fixtures naming the real services of the integration tests.

`scripts/test` starts (or reuses) them with `scripts/services up` and exports their
addresses; see tests/README.md. A missing address fails the test instead of skipping it:
an integration test that did not run must never look green.
"""

from __future__ import annotations

import os

import pytest

HOW = (
    "start the services with `source <(scripts/services up)` (or run the whole suite with "
    "`scripts/test`, which does that), or export {var} to point at a running {what}"
)


def _required(var: str, what: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        pytest.fail(f"{var} is not set: {HOW.format(var=var, what=what)}", pytrace=False)
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of a Kafka broker (SQLSTREAM_KAFKA_BOOTSTRAP)."""
    return _required("SQLSTREAM_KAFKA_BOOTSTRAP", "Kafka broker")


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """libpq DSN of a PostgreSQL database (SQLSTREAM_PG_DSN)."""
    return _required("SQLSTREAM_PG_DSN", "PostgreSQL server")


@pytest.fixture(scope="session")
def pg_url(pg_dsn: str) -> str:
    """The same database as Flink's JDBC connector names it (SQLSTREAM_PG_URL)."""
    return _required("SQLSTREAM_PG_URL", "PostgreSQL server")


@pytest.fixture(scope="session")
def pg_noprep_dsn() -> str:
    """libpq DSN of a PostgreSQL server with max_prepared_transactions = 0
    (SQLSTREAM_PG_NOPREP_DSN; `scripts/services up postgres-noprep`), for epoch mode."""
    return _required("SQLSTREAM_PG_NOPREP_DSN", "PostgreSQL server without prepared transactions")


@pytest.fixture(scope="session")
def pg_noprep_url(pg_noprep_dsn: str) -> str:
    """The same server in Flink's JDBC form (SQLSTREAM_PG_NOPREP_URL)."""
    return _required("SQLSTREAM_PG_NOPREP_URL", "PostgreSQL server without prepared transactions")
