"""The S3-compatible object store of the tests (SeaweedFS, ``scripts/services up s3``):
its settings as a job's SET lines, and its store for looking at what a job left there.
Each test writes under a prefix of its own in the one bucket the services script makes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from runtime.checkpoint.store import ObjectStore, open_store


def s3_options() -> dict[str, str]:
    """Flink's s3.* keys for the test store; fails (never skips) when it is not running."""
    names = ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY", "BUCKET")
    missing = [f"SQLSTREAM_S3_{n}" for n in names if not os.environ.get(f"SQLSTREAM_S3_{n}", "").strip()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: start the object store with "
            "`source <(scripts/services up s3)` (or run scripts/test)",
            pytrace=False,
        )
    return {
        "s3.endpoint": os.environ["SQLSTREAM_S3_ENDPOINT"],
        "s3.access-key": os.environ["SQLSTREAM_S3_ACCESS_KEY"],
        "s3.secret-key": os.environ["SQLSTREAM_S3_SECRET_KEY"],
        "s3.path.style.access": "true",
    }


def s3_root() -> str:
    """A fresh ``s3://bucket/prefix`` for one test's checkpoints."""
    s3_options()
    return f"s3://{os.environ['SQLSTREAM_S3_BUCKET']}/tests/{uuid.uuid4().hex[:12]}"


def s3_sets(root: str) -> str:
    """The SET lines that send a job's checkpoints to ``root``."""
    lines = [f"SET 'state.checkpoints.dir' = '{root}';"]
    lines += [f"SET '{k}' = '{v}';" for k, v in s3_options().items()]
    return "\n".join(lines) + "\n"


def checkpoints_on_s3(sql: str, folder: Path, root: str) -> str:
    """A script of ``tests/crash``, whose checkpoints went to ``folder``, with them in
    ``root`` instead."""
    local = f"SET 'state.checkpoints.dir' = '{folder}';\n"
    assert local in sql
    return sql.replace(local, s3_sets(root))


def s3_store(root: str) -> ObjectStore:
    store = open_store(root, s3_options())
    assert isinstance(store, ObjectStore)
    return store
