"""PARSE_URL, URL_ENCODE and URL_DECODE as Flink computes them, in DuckDB.

Flink parses with ``java.net.URL`` and encodes with ``URLEncoder`` / ``URLDecoder`` in
UTF-8 (SqlFunctionUtils.parseUrl, UrlEncodeFunction, UrlDecodeFunction); what Java refuses
(text that is no URL, a port that is no number, a broken ``%`` escape) is NULL. The
oracle's fixtures ``tests/oracle/fixtures/urls.json`` hold Flink's answers.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.numeric import template

# java.net.URL: a protocol it has a handler for; '#' starts the reference, '?' the query;
# after '//' the authority runs to the next '/' or '?'. A port must be digits; an IPv6 host
# is in brackets, which getHost keeps ('[::1]').
_URL = r"^\s*((?i:https?|ftp|file|mailto)):(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$"
_AUTHORITY = r"^(?:([^@]*)@)?(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$"
_PARTS = {
    "PROTOCOL": "lower(regexp_extract({u}, {r}, 1))",
    "AUTHORITY": "CASE WHEN regexp_matches({u}, '^\\s*[A-Za-z]+://') THEN regexp_extract({u}, {r}, 2) END",
    "USERINFO": "CASE WHEN contains(regexp_extract({u}, {r}, 2), '@') "
    "THEN regexp_extract(regexp_extract({u}, {r}, 2), {a}, 1) END",
    "HOST": "regexp_extract(regexp_extract({u}, {r}, 2), {a}, 2)",
    "PATH": "regexp_extract({u}, {r}, 3)",
    "QUERY": "CASE WHEN regexp_matches({u}, '^[^#]*\\?') THEN regexp_extract({u}, {r}, 4) END",
    "REF": "CASE WHEN contains({u}, '#') THEN regexp_extract({u}, {r}, 5) END",
    "FILE": "regexp_extract({u}, {r}, 3) || CASE WHEN regexp_matches({u}, '^[^#]*\\?') "
    "THEN '?' || regexp_extract({u}, {r}, 4) ELSE '' END",
}


def _parse_url(n: exp.Expr) -> exp.Expr:
    """PARSE_URL(url, part[, key]): the part of a URL Java can read, else NULL; with a key,
    the value of the first ``key=value`` of the query (``(&|^)key=([^&]*)``)."""
    url, part, key = n.this, n.args["part_to_extract"], n.args.get("key")
    if isinstance(part, exp.Cast) and isinstance(part.this, exp.Null):
        return exp.cast(exp.null(), "VARCHAR")
    if not part.is_string:
        raise UnsupportedError("PARSE_URL with a part that is not a constant")
    name = part.name  # case matters: 'host' is no part, as in Flink
    if name not in _PARTS or (key is not None and name != "QUERY"):
        return exp.cast(exp.null(), "VARCHAR")
    regex, authority = exp.Literal.string(_URL), exp.Literal.string(_AUTHORITY)
    readable = "regexp_matches({u}, {r}) AND regexp_matches(regexp_extract({u}, {r}, 2), {a})"
    value = template(f"CASE WHEN {readable} THEN {_PARTS[name]} END", u=url, r=regex, a=authority)
    if key is None:
        return value
    found = "list_filter(string_split({q}, '&'), __p -> starts_with(__p, {k} || '='))"
    return template(
        f"CASE WHEN len({found}) > 0 THEN substr({found}[1], length({{k}}) + 2) END", q=value, k=key
    )


def _url_encode(n: exp.Anonymous) -> exp.Expr:
    """URLEncoder: letters, digits and '.-*_' stay, a space is '+', the rest %XX of UTF-8
    (DuckDB's url_encode also keeps '~', escapes '*' and writes a space as %20)."""
    (value,) = n.expressions
    return template("replace(replace(replace(url_encode({s}), '%20', '+'), '%2A', '*'), '~', '%7E')", s=value)


def _url_decode(n: exp.Anonymous) -> exp.Expr:
    """URLDecoder: '+' is a space, %XX a byte of UTF-8; a '%' without two hex digits after
    it makes Java throw, and Flink answer NULL (DuckDB keeps it as it is). Bytes that are
    not UTF-8 are U+FFFD (runtime.charsets: DuckDB's url_decode fails on them)."""
    (value,) = n.expressions
    return template(
        "CASE WHEN NOT regexp_matches({s}, '%([^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]|[0-9A-Fa-f]?$)') "
        "THEN coalesce(try(url_decode(replace({s}, '+', ' '))), flink_url_decode({s})) END",
        s=value,
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    exp.ParseUrl: _parse_url,
    "URL_ENCODE": _url_encode,
    "URL_DECODE": _url_decode,
}
