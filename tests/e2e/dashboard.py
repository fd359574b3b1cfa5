"""Helpers for the dashboard tests: a running datagen -> blackhole job, and HTTP calls."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

WAIT_S = 60.0

SOURCE_DDL = """
CREATE TABLE src (
    k BIGINT, v BIGINT, ts AS LOCALTIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '20000',
        'fields.k.min' = '0', 'fields.k.max' = '99', 'fields.v.min' = '0', 'fields.v.max' = '1000');
CREATE TABLE out (k BIGINT, window_start TIMESTAMP(3), c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
"""
INSERT = (
    "INSERT INTO out SELECT k, window_start, COUNT(*), SUM(v) "
    "FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k"
)


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    """(status, JSON document) of one request; an HTTP error status is returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url: str) -> Any:
    status, doc = call(url)
    assert status == 200, f"GET {url}: {status} {doc}"
    return doc


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll until ``check()`` is truthy; fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
