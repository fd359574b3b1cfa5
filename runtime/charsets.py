"""ENCODE and DECODE in any character set, as Java's String.getBytes(charset) and
new String(bytes, charset) do them (Flink's StringCallGen), installed on every operator's
DuckDB connection as ``flink_encode(text, charset)`` and ``flink_decode(bytes, charset)``,
and URL_DECODE's reading of escaped bytes that are not UTF-8 as ``flink_url_decode(text)``.
DuckDB's own encode and decode know UTF-8 only, and its decode and url_decode fail the job
on bytes that are not UTF-8, where Java puts U+FFFD.

Java replaces a character the set cannot hold by '?' and malformed bytes by U+FFFD; its
UTF-16 writes a big-endian byte order mark (none for ''), and reads one if present, else
big-endian. A set Java does not know fails the job (UnsupportedEncodingException).

>>> encode("é😀", "US-ASCII"), encode("é", "utf-16"), decode(b"A\\xe9", "UTF-8")
(b'??', b'\\xfe\\xff\\x00\\xe9', 'A\\ufffd')
>>> url_decode("%C3+%C3%A9")
'\\ufffd é'
"""

from __future__ import annotations

import codecs
import urllib.parse

import duckdb
import duckdb.func
import pyarrow as pa

ENCODE = "flink_encode"
DECODE = "flink_decode"
URL_DECODE = "flink_url_decode"


def _codec(charset: str) -> str:
    """Python's codec for a Java charset name (case and '-' / '_' do not matter to either)."""
    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise ValueError(f"unsupported character set '{charset}'") from None


def encode(text: str | None, charset: str | None) -> bytes | None:
    if text is None or charset is None:
        return None
    codec = _codec(charset)
    if codec == "utf-16":  # Java: big-endian with a byte order mark, none for ''
        return b"\xfe\xff" + text.encode("utf-16-be") if text else b""
    return text.encode(codec, errors="replace")


def decode(data: bytes | None, charset: str | None) -> str | None:
    if data is None or charset is None:
        return None
    codec = _codec(charset)
    if codec == "utf-16":  # Java: the byte order mark if there is one, else big-endian
        if data[:2] == b"\xff\xfe":
            return data[2:].decode("utf-16-le", errors="replace")
        return data[2 if data[:2] == b"\xfe\xff" else 0 :].decode("utf-16-be", errors="replace")
    return data.decode(codec, errors="replace")


def url_decode(text: str | None) -> str | None:
    """URLDecoder.decode(text, UTF-8) of text whose escapes the planner has checked."""
    if text is None:
        return None
    return urllib.parse.unquote_to_bytes(text.replace("+", " ")).decode("utf-8", errors="replace")


def _url_decode_all(texts: pa.Array) -> pa.Array:
    return pa.array([url_decode(t) for t in texts.to_pylist()], pa.string())


def _encode_all(texts: pa.Array, charsets: pa.Array) -> pa.Array:
    return pa.array([encode(t, c) for t, c in zip(texts.to_pylist(), charsets.to_pylist())], pa.binary())


def _decode_all(data: pa.Array, charsets: pa.Array) -> pa.Array:
    return pa.array([decode(d, c) for d, c in zip(data.to_pylist(), charsets.to_pylist())], pa.string())


def install(con: duckdb.DuckDBPyConnection) -> None:
    for name, fn, args, result in (
        (ENCODE, _encode_all, ["VARCHAR", "VARCHAR"], "BLOB"),
        (DECODE, _decode_all, ["BLOB", "VARCHAR"], "VARCHAR"),
        (URL_DECODE, _url_decode_all, ["VARCHAR"], "VARCHAR"),
    ):
        con.create_function(
            name,
            fn,
            [duckdb.sqltype(a) for a in args],
            duckdb.sqltype(result),
            type=duckdb.func.ARROW,
            null_handling=duckdb.func.SPECIAL,
        )
