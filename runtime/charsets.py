"""ENCODE and DECODE in any character set, as Java's String.getBytes(charset) and
new String(bytes, charset) do them (Flink's StringCallGen), installed on every operator's
DuckDB connection as ``flink_encode(text, charset)`` and ``flink_decode(bytes, charset)``,
and URL_DECODE's reading of escaped bytes that are not UTF-8 as ``flink_url_decode(text)``,
and LPAD and RPAD counting a Java string's UTF-16 units as ``flink_pad_utf16(s, n, pad, left)``.
DuckDB's own encode and decode know UTF-8 only, and its decode and url_decode fail the job
on bytes that are not UTF-8, where Java puts U+FFFD.

Java replaces a character the set cannot hold by '?' and malformed bytes by U+FFFD; its
UTF-16 writes a big-endian byte order mark (none for ''), and reads one if present, else
big-endian. A set Java does not know fails the job (UnsupportedEncodingException).

>>> encode("é😀", "US-ASCII"), encode("é", "utf-16"), decode(b"A\\xe9", "UTF-8")
(b'??', b'\\xfe\\xff\\x00\\xe9', 'A\\ufffd')
>>> url_decode("%C3+%C3%A9")
'\\ufffd é'
>>> pad_utf16("😀", 3, "x", True), pad_utf16("x", 2, "😀", False), pad_utf16("a😀", 2, "x", True)
('x😀', 'x?', 'a?')
"""

from __future__ import annotations

import codecs
import re
import urllib.parse

import duckdb
import pyarrow as pa

from runtime import arrow_functions
from runtime.arrow_functions import ArrowFunction

ENCODE = "flink_encode"
DECODE = "flink_decode"
URL_DECODE = "flink_url_decode"
PAD_UTF16 = "flink_pad_utf16"


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


def pad_utf16(base: str | None, length: int | None, fill: str | None, left: bool | None) -> str | None:
    """SqlFunctionUtils.lpad/rpad: ``base`` padded with ``fill`` (on the left or the right)
    or cut, to ``length`` UTF-16 units, where a character beyond U+FFFF is two. A cut that
    parts such a pair leaves half of it, which Flink's UTF-8 text writes as '?'."""
    if base is None or length is None or fill is None or left is None:
        return None
    if length < 0 or fill == "":
        return None
    units, pad = _utf16(base), _utf16(fill)
    pad_units = max(length - len(units), 0)
    padding = (pad * (pad_units // len(pad) + 1))[:pad_units]
    out = padding + units[: length - pad_units] if left else units[:length] + padding
    text = b"".join(u.to_bytes(2, "little") for u in out).decode("utf-16-le", errors="surrogatepass")
    return _LONE_SURROGATE.sub("?", text)


def _utf16(text: str) -> list[int]:
    data = text.encode("utf-16-le", errors="surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _pad_all(texts: pa.Array, lengths: pa.Array, fills: pa.Array, lefts: pa.Array) -> pa.Array:
    rows = zip(texts.to_pylist(), lengths.to_pylist(), fills.to_pylist(), lefts.to_pylist())
    return pa.array([pad_utf16(*row) for row in rows], pa.string())


def _url_decode_all(texts: pa.Array) -> pa.Array:
    return pa.array([url_decode(t) for t in texts.to_pylist()], pa.string())


def _encode_all(texts: pa.Array, charsets: pa.Array) -> pa.Array:
    return pa.array([encode(t, c) for t, c in zip(texts.to_pylist(), charsets.to_pylist())], pa.binary())


def _decode_all(data: pa.Array, charsets: pa.Array) -> pa.Array:
    return pa.array([decode(d, c) for d, c in zip(data.to_pylist(), charsets.to_pylist())], pa.string())


FUNCTIONS = (
    ArrowFunction(ENCODE, _encode_all, ("VARCHAR", "VARCHAR"), "BLOB"),
    ArrowFunction(DECODE, _decode_all, ("BLOB", "VARCHAR"), "VARCHAR"),
    ArrowFunction(URL_DECODE, _url_decode_all, ("VARCHAR",), "VARCHAR"),
    ArrowFunction(PAD_UTF16, _pad_all, ("VARCHAR", "BIGINT", "VARCHAR", "BOOLEAN"), "VARCHAR"),
)


def install(con: duckdb.DuckDBPyConnection) -> None:
    arrow_functions.install(con, FUNCTIONS)
