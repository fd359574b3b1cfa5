"""SHA2(s, bits) for every length Java's MessageDigest has (SHA-224, SHA-256, SHA-384,
SHA-512), installed on every operator's DuckDB connection as ``flink_sha2(text, bits)``:
DuckDB's own digests are MD5, SHA-1 and SHA-256. The hex digest of the text's UTF-8 bytes;
NULL for a NULL length; a length without a SHA-2 digest fails the job, as Flink's
NoSuchAlgorithmException does.

>>> sha2("abc", 224)
'23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7'
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

FUNCTION = "flink_sha2"
_DIGESTS = {224: hashlib.sha224, 256: hashlib.sha256, 384: hashlib.sha384, 512: hashlib.sha512}


def sha2(text: str | None, bits: int | None) -> str | None:
    if text is None or bits is None:
        return None
    digest = _DIGESTS.get(bits)
    if digest is None:
        raise ValueError(f"SHA2: no SHA-2 digest of {bits} bits (224, 256, 384 or 512)")
    return digest(text.encode("utf-8")).hexdigest()


def _vectorized(texts: pa.Array, bits: pa.Array) -> pa.Array:
    return pa.array([sha2(t, b) for t, b in zip(texts.to_pylist(), bits.to_pylist())], pa.string())


FUNCTIONS = (ArrowFunction(FUNCTION, _vectorized, ("VARCHAR", "BIGINT"), "VARCHAR"),)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
