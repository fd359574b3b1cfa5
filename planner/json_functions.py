"""SQL/JSON functions as Flink computes them (SqlJsonUtils, Jayway JsonPath over Jackson),
translated to DuckDB's JSON functions.

A path is ``lax <spec>``, ``strict <spec>`` or a bare spec, which Flink reads as STRICT.
In lax mode text that is not JSON, a path that finds nothing and a JSON ``null`` are
*empty*; in strict mode all three are *errors* (Jayway throws for them). JSON_VALUE's empty and error
results follow its ON EMPTY / ON ERROR clauses (NULL by default); a value its RETURNING type
cannot hold fails the job, as Flink's cast of the Java value does (an Integer only from a
JSON integer that fits, a DOUBLE only from a JSON number with a fraction or exponent, a
BOOLEAN only from true/false). JSON_EXISTS is FALSE ON ERROR by default. ``IS JSON`` is
never NULL. Paths are keys and array indexes (``$.a.b[0]``, ``$['a b']``, ``$["a"]``, ``$.a[-1]``
from the end). A path Jayway reads as indefinite (a wildcard, a deep scan, a slice) finds a
list: never JSON_VALUE's scalar, and for a strict JSON_QUERY with wildcards (``[*]``,
``.*``) its text; others (filters, and indefinite paths elsewhere) are refused at plan
time, by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from planner.errors import UnsupportedError
from planner.expressions import JsonArray, JsonExists, JsonObjectText, JsonQuery, JsonValue
from planner.numeric import template

_MODE = re.compile(r"^\s*(strict|lax)\s+(.+)$", re.IGNORECASE | re.DOTALL)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
# A step Jayway reads as indefinite (its answer a list of what it finds): a wildcard, a deep
# scan, several indexes or keys, a slice
_INDEFINITE_STEP = re.compile(
    r"\.\*|\[\*\]|\.\.(?:[A-Za-z_][A-Za-z0-9_]*|\*|\[(?:\*|-?\d+|'[^']*')\])"
    r"|\[\s*-?\d+(?:\s*,\s*-?\d+)+\s*\]|\[\s*-?\d*\s*:\s*-?\d*\s*\]|\['[^']*'(?:\s*,\s*'[^']*')+\]"
)
_WILDCARD = re.compile(r"\.\*|\[\*\]")
# RETURNING type (sqlglot's name) -> DuckDB's type, and the JSON types (DuckDB's json_type)
# whose Java value Flink's cast accepts (None: any, as text)
_RETURNING: dict[str, tuple[str, str | None]] = {
    "TEXT": ("VARCHAR", None),
    "VARCHAR": ("VARCHAR", None),
    "INT": ("INTEGER", "'BIGINT', 'UBIGINT'"),  # and it must fit: Jackson's Integer
    "DOUBLE": ("DOUBLE", "'DOUBLE'"),  # Jackson's BigDecimal: a fraction or an exponent
    "BOOLEAN": ("BOOLEAN", "'BOOLEAN'"),
}


def path_of(path: exp.Expr, name: str) -> tuple[bool, str]:
    """(strict, DuckDB's path) of a constant Flink path."""
    strict, duck, _ = _path(path, name)
    return strict, duck


def _path(path: exp.Expr, name: str) -> tuple[bool, str, str]:
    """(strict, DuckDB's path, the path's keys and indexes as a JSON list) of a constant
    Flink path."""
    if not (isinstance(path, exp.Literal) and path.is_string):
        raise UnsupportedError(f"{name} with a path that is not a constant string")
    text = path.name
    match = _MODE.match(text)
    strict, spec = True, text.strip()
    if match:
        strict, spec = match.group(1).lower() == "strict", match.group(2).strip()
    if not spec.startswith("$"):
        raise UnsupportedError(f"{name} with the path '{text}': a path starts with $")
    duck, at, steps = "$", 1, []
    while at < len(spec):
        step = _STEP.match(spec, at)
        if step is None:
            raise UnsupportedError(
                f"{name} with the path '{text}'",
                hint="paths of keys and array indexes are supported: $.a.b[0], $['a b'], $.a[-1]",
            )
        key = next((k for k in (step.group(1), step.group(3), step.group(4)) if k is not None), "")
        index = step.group(2)
        if index is not None:  # Jayway's negative index counts from the end, DuckDB's [#-1]
            duck += f"[#{index}]" if index.startswith("-") else f"[{index}]"
        else:
            duck += '."' + key.replace('"', '\\"') + '"'
        steps.append(int(index) if index is not None else key)
        at = step.end()
    return strict, duck, json.dumps(steps)


def _lit(text: str) -> exp.Expr:
    return exp.Literal.string(text)


def _fail(message: str) -> exp.Expr:
    return template("error({m})", m=_lit(message))


def _returning(n: JsonValue) -> tuple[str, str | None]:
    returning = n.args.get("returning")
    if returning is None:
        return _RETURNING["TEXT"]
    name = returning.this.value  # sqlglot's type name: STRING reads as TEXT
    if name not in _RETURNING or returning.expressions:
        raise UnsupportedError(
            f"JSON_VALUE ... RETURNING {returning.sql()}",
            hint="Flink's JSON_VALUE returns STRING, BOOLEAN, INT or DOUBLE",
        )
    return _RETURNING[name]


def _flink_text(s: exp.Expr, steps: str) -> exp.Expr:
    """The value's text as Flink writes it (runtime.json_text): a number with a fraction or
    an exponent as its BigDecimal (1.5E+3, not DuckDB's 1500.0), keys sorted."""
    return template("flink_json_query({s}, {st})", s=s, st=_lit(steps))


def _indefinite(path: exp.Expr) -> bool | None:
    """For a constant path with an indefinite step (and otherwise only keys and indexes):
    whether it is strict; None for any other path."""
    if not (isinstance(path, exp.Literal) and path.is_string):
        return None
    match = _MODE.match(path.name)
    strict, spec = True, path.name.strip()
    if match:
        strict, spec = match.group(1).lower() == "strict", match.group(2).strip()
    if not spec.startswith("$"):
        return None
    at, found = 1, False
    while at < len(spec):
        step = _INDEFINITE_STEP.match(spec, at)
        found |= step is not None
        step = step or _STEP.match(spec, at)
        if step is None:
            return None
        at = step.end()
    return strict if found else None


def _value_outcome(n: JsonValue, duck: str, key: str, why: str) -> exp.Expr:
    """JSON_VALUE's ON EMPTY (``key`` "empty") or ON ERROR behaviour."""
    behaviour = n.text(key) or "NULL"
    if behaviour == "ERROR":
        return _fail(f"JSON_VALUE: {why}")
    if behaviour == "DEFAULT":
        return template(f"CAST({{d}} AS {duck})", d=n.args[f"{key}_default"])
    return template(f"CAST(NULL AS {duck})")


def json_value(n: JsonValue) -> exp.Expr:
    duck, accepted = _returning(n)
    s = n.this
    indefinite = _indefinite(n.args["path"])
    if indefinite is not None:  # Jayway's list is no scalar: empty (lax) or an error (strict)
        behaviour = "error" if indefinite else "empty"
        return template(
            "CASE WHEN {s} IS NULL THEN NULL ELSE {x} END",
            s=s,
            x=_value_outcome(n, duck, behaviour, "the path finds a list, not a scalar"),
        )
    strict, p, steps = _path(n.args["path"], "JSON_VALUE")
    t = template("json_type({s}, {p})", s=s, p=_lit(p))

    empty = _value_outcome(n, duck, "empty", "empty result (ERROR ON EMPTY)")
    error = _value_outcome(n, duck, "error", "the input is not JSON or the path finds no value (strict mode)")
    extracted = template("json_extract_string({s}, {p})", s=s, p=_lit(p))
    if accepted is None:  # as text: a number as Flink writes it
        extracted = template(
            "CASE WHEN {t} = 'DOUBLE' THEN {x} ELSE {e} END", t=t, x=_flink_text(s, steps), e=extracted
        )
    bad = _fail(f"JSON_VALUE: the value at '{n.args['path'].name}' is not of the RETURNING type ({duck})")
    value = extracted
    if accepted is not None:
        value = template(
            f"CASE WHEN {{t}} IN ({accepted}) AND TRY_CAST({{x}} AS {duck}) IS NOT NULL "
            f"THEN CAST({{x}} AS {duck}) ELSE {{bad}} END",
            t=t, x=extracted, bad=bad,
        )  # fmt: skip
    if strict:
        sql = (
            "CASE WHEN {s} IS NULL THEN NULL WHEN NOT json_valid({s}) THEN {error} "
            "WHEN {t} IS NULL OR {t} IN ('NULL', 'OBJECT', 'ARRAY') THEN {error} ELSE {value} END"
        )
    else:
        sql = (
            "CASE WHEN {s} IS NULL THEN NULL WHEN NOT json_valid({s}) THEN {empty} "
            "WHEN {t} IS NULL OR {t} IN ('NULL', 'OBJECT', 'ARRAY') THEN {empty} ELSE {value} END"
        )
    return template(sql, s=s, t=t, empty=empty, error=error, value=value)


def _query_outcome(n: JsonQuery, key: str, why: str) -> exp.Expr:
    behaviour = n.text(key) or "NULL"
    if behaviour == "ERROR":
        return _fail(f"JSON_QUERY: {why}")
    if behaviour == "EMPTY ARRAY":
        return _lit("[]")
    if behaviour == "EMPTY OBJECT":
        return _lit("{}")
    return template("CAST(NULL AS VARCHAR)")


def returns_array(n: JsonQuery) -> bool:
    """``JSON_QUERY(.. RETURNING ARRAY<STRING>)`` (the planner's type check refused any
    other RETURNING type but STRING)."""
    returning = n.args.get("returning")
    return returning is not None and returning.this == exp.DType.ARRAY


def json_query(n: JsonQuery) -> exp.Expr:
    """JSON_QUERY's JSON text; RETURNING ARRAY<STRING> reads an array's text into its
    elements' strings (runtime.json_text), where an object is an error (Flink's cast of it
    to a List fails), answered by the ON ERROR behaviour."""
    text = _query_text(n)
    if not returns_array(n):
        return text
    return template("flink_json_strings({t}, {e})", t=text, e=_lit(n.text("error") or "NULL"))


def _wildcard_steps(path: exp.Expr) -> str | None:
    """The steps (a JSON list, ``null`` for a wildcard) of a constant strict path of keys,
    indexes and at least one wildcard (``[*]``, ``.*``); None for any other path."""
    if not (isinstance(path, exp.Literal) and path.is_string) or _indefinite(path) is not True:
        return None
    spec = _MODE.sub(r"\2", path.name).strip()
    steps: list[Any] = []
    at = 1
    while at < len(spec):
        wildcard = _WILDCARD.match(spec, at)
        step = wildcard or _STEP.match(spec, at)
        if step is None:
            return None
        if wildcard is not None:
            steps.append(None)
        else:
            key = next((k for k in (step.group(1), step.group(3), step.group(4)) if k is not None), "")
            steps.append(int(step.group(2)) if step.group(2) is not None else key)
        at = step.end()
    return json.dumps(steps) if None in steps else None


def _query_list(n: JsonQuery, steps: str) -> exp.Expr:
    """JSON_QUERY of a strict path with a wildcard: Jayway's list of what it finds
    (runtime.json_text), a list whatever the wrapper but UNCONDITIONAL's; an error
    (not JSON, a key missing before the wildcard) is the ON ERROR behaviour."""
    text = _flink_text(n.this, steps)
    if (n.text("wrapper") or "WITHOUT") == "UNCONDITIONAL":
        text = template("'[' || {v} || ']'", v=text)
    error = _query_outcome(n, "error", "the input is not JSON or the path finds no value (strict)")
    return template("CASE WHEN {s} IS NULL THEN NULL ELSE coalesce({v}, {e}) END", s=n.this, v=text, e=error)


def _query_text(n: JsonQuery) -> exp.Expr:
    steps = _wildcard_steps(n.args["path"])
    if steps is not None:
        return _query_list(n, steps)
    strict, p, steps = _path(n.args["path"], "JSON_QUERY")
    s = n.this
    t = template("json_type({s}, {p})", s=s, p=_lit(p))
    text = _flink_text(s, steps)
    empty = _query_outcome(n, "empty", "empty result (ERROR ON EMPTY)")
    error = _query_outcome(n, "error", "the input is not JSON, the path finds no value or a scalar (strict)")
    wrapper = n.text("wrapper") or "WITHOUT"
    if wrapper == "UNCONDITIONAL":
        wrapped = template("'[' || {v} || ']'", v=text)
    elif wrapper == "CONDITIONAL":
        wrapped = template("CASE WHEN {t} = 'ARRAY' THEN {v} ELSE '[' || {v} || ']' END", t=t, v=text)
    else:  # a scalar without a wrapper is empty (lax) or an error (strict)
        scalar = error if strict else empty
        wrapped = template(
            "CASE WHEN {t} IN ('OBJECT', 'ARRAY') THEN {v} ELSE {x} END", t=t, v=text, x=scalar
        )
    nothing = error if strict else empty  # not JSON, or the path finds nothing or null
    return template(
        "CASE WHEN {s} IS NULL THEN NULL WHEN NOT json_valid({s}) THEN {nothing} "
        "WHEN {t} IS NULL OR {t} = 'NULL' THEN {nothing} ELSE {wrapped} END",
        s=s, t=t, nothing=nothing, wrapped=wrapped,
    )  # fmt: skip


def json_exists(n: JsonExists) -> exp.Expr:
    strict, p = path_of(n.args["path"], "JSON_EXISTS")
    s = n.this
    t = template("json_type({s}, {p})", s=s, p=_lit(p))
    behaviour = n.text("error") or "FALSE"
    error = {
        "TRUE": exp.true(),
        "FALSE": exp.false(),
        "UNKNOWN": template("CAST(NULL AS BOOLEAN)"),
    }.get(behaviour) or _fail("JSON_EXISTS: the input is not JSON or the path finds no value (strict mode)")
    if strict:
        sql = (
            "CASE WHEN {s} IS NULL THEN NULL WHEN NOT json_valid({s}) THEN {error} "
            "WHEN {t} IS NULL OR {t} = 'NULL' THEN {error} ELSE true END"
        )
    else:
        sql = (
            "CASE WHEN {s} IS NULL THEN NULL WHEN NOT json_valid({s}) THEN false "
            "ELSE coalesce({t} <> 'NULL', false) END"
        )
    return template(sql, s=s, t=t, error=error)


_KINDS = {"VALUE": "true", "OBJECT": "json_type({s}) = 'OBJECT'", "ARRAY": "json_type({s}) = 'ARRAY'",
          "SCALAR": "json_type({s}) NOT IN ('OBJECT', 'ARRAY')"}  # fmt: skip


def is_json(n: exp.Is) -> exp.Expr:
    """``x IS JSON [VALUE | OBJECT | ARRAY | SCALAR]``: FALSE, not NULL, for NULL and for text
    that is not JSON (``IS NOT JSON`` is its negation, a NOT around it)."""
    kind = n.expression
    if not isinstance(kind, exp.JSON):
        return n
    test = _KINDS.get(kind.text("this").upper() or "VALUE", "true")
    return template(f"CASE WHEN coalesce(json_valid({{s}}), false) THEN {test} ELSE false END", s=n.this)


def json_array(n: JsonArray) -> exp.Expr:
    """``JSON_ARRAY(v, ...)``: compact JSON; a NULL is left out (ABSENT ON NULL, the default)
    or written ``null`` (NULL ON NULL). Never NULL itself."""
    absent = n.text("null") != "NULL"
    items = [template("{j}" if absent else "coalesce({j}, 'null')", j=json_text(v)) for v in n.expressions]
    if not items:
        return raw_json(_lit("[]"))
    return raw_json(
        template(
            "'[' || array_to_string(list_filter({m}, __x -> __x IS NOT NULL), ',') || ']'",
            m=exp.Array(expressions=items),
        )
    )


def raw_json(e: exp.Expr) -> exp.Expr:
    """Marks the DuckDB SQL of a JSON_OBJECT or JSON_ARRAY call: inside another one, its
    text is inserted as JSON, not quoted as a string (Flink nests them)."""
    e.meta["raw_json"] = True
    return e


def json_text(value: exp.Expr) -> exp.Expr:
    """A value of JSON_OBJECT or JSON_ARRAY as JSON text (NULL for NULL)."""
    if value.meta.get("raw_json"):
        return value
    return typed_json(value, template("to_json({v})", v=value))


# Java's ISO_LOCAL_DATE_TIME: seconds always, then the fraction's digits without its
# trailing zeros (10:00:01.5), none when there is no fraction
_MICROS = "((epoch_us({t}) % 1000000) + 1000000) % 1000000"
_ISO = (
    f"strftime({{t}}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN {_MICROS} = 0 THEN '' "
    f"ELSE '.' || rtrim(lpad(CAST({_MICROS} AS VARCHAR), 6, '0'), '0') END"
)


def typed_json(value: exp.Expr, otherwise: exp.Expr) -> exp.Expr:
    """JSON text of the values Jackson writes its own way, else ``otherwise``: BYTES as
    base64, a TIMESTAMP as ISO text (2020-01-01T10:00:00.5), a TIMESTAMP_LTZ as its UTC
    time with a Z, NaN and the infinities as strings. DuckDB's to_json wrote \\x01,
    2020-01-01 10:00:00, NaN. Chosen by DuckDB's type, as the rewrite has no Flink types."""
    utc = template("timezone('UTC', TRY_CAST({v} AS TIMESTAMPTZ))", v=value)
    double = template("TRY_CAST({v} AS DOUBLE)", v=value)
    return template(
        "CASE WHEN {v} IS NULL THEN NULL "
        "WHEN typeof({v}) = 'BLOB' THEN chr(34) || to_base64(TRY_CAST({v} AS BLOB)) || chr(34) "
        "WHEN typeof({v}) = 'TIMESTAMP WITH TIME ZONE' "
        f"THEN chr(34) || {_ISO.format(t='{u}')} || 'Z' || chr(34) "
        f"WHEN typeof({{v}}) LIKE 'TIMESTAMP%' THEN chr(34) || {_ISO.format(t='{l}')} || chr(34) "
        "WHEN typeof({v}) IN ('DOUBLE', 'FLOAT') AND isnan({d}) THEN '\"NaN\"' "
        "WHEN typeof({v}) IN ('DOUBLE', 'FLOAT') AND isinf({d}) AND {d} > 0 THEN '\"Infinity\"' "
        "WHEN typeof({v}) IN ('DOUBLE', 'FLOAT') AND isinf({d}) THEN '\"-Infinity\"' "
        "ELSE {o} END",
        v=value,
        u=utc,
        l=template("TRY_CAST({v} AS TIMESTAMP)", v=value),
        d=double,
        o=otherwise,
    )


def _last_of_each_key(pairs: list[exp.Expr], absent: bool) -> list[tuple[exp.Expr, exp.Expr]]:
    """(key, JSON text) of JSON_OBJECT's pairs, a constant key given twice once, in its first
    place, with its last value: Flink sets each pair into one Jackson object, which keeps a
    key where it was first set. ABSENT ON NULL skips a NULL, so the last value that is not."""
    merged: dict[str, tuple[exp.Expr, list[exp.Expr]]] = {}
    for i, pair in enumerate(pairs):
        key, value = pair.this, json_text(pair.expression)
        label = key.name if isinstance(key, exp.Literal) and key.is_string else f"\0{i}"
        merged.setdefault(label, (key, []))[1].append(value)
    result = []
    for key, values in merged.values():
        last = values[-1]
        if absent and len(values) > 1:
            last = exp.func("coalesce", *reversed(values))
        result.append((key, last))
    return result


def json_object(n: exp.Expr) -> exp.Expr:
    """JSON_OBJECT(k VALUE v, ...): Jackson's compact text; a NULL value is ``null`` (NULL ON
    NULL, the default) or left out (ABSENT ON NULL). Never NULL itself."""
    absent = "ABSENT" in str(n.args.get("null_handling") or "").upper()
    members = []
    for key, value in _last_of_each_key(n.expressions, absent):
        member = "to_json(CAST({k} AS VARCHAR)) || ':' || " + ("{v}" if absent else "coalesce({v}, 'null')")
        members.append(template(member, k=key, v=value))
    if not members:
        return raw_json(_lit("{}"))
    listed = exp.Array(expressions=members)
    return raw_json(
        template("'{{' || array_to_string(list_filter({m}, __x -> __x IS NOT NULL), ',') || '}}'", m=listed)
    )


# JsonQuoteFunction: a character is escaped as in JSON ('/' too), and one above 127 as
# \\u and its code in lowercase hex; Flink 2.3 writes a character beyond the BMP as its code
# point (\\u1f600) followed by its low surrogate (\\ude00), as it walks the UTF-16 units
_QUOTED = (
    "CASE WHEN __c = chr(34) THEN chr(92) || chr(34) WHEN __c = chr(92) THEN chr(92) || chr(92) "
    "WHEN __c = '/' THEN chr(92) || '/' WHEN __c = chr(8) THEN chr(92) || 'b' "
    "WHEN __c = chr(12) THEN chr(92) || 'f' WHEN __c = chr(10) THEN chr(92) || 'n' "
    "WHEN __c = chr(13) THEN chr(92) || 'r' WHEN __c = chr(9) THEN chr(92) || 't' "
    "WHEN unicode(__c) > 65535 THEN printf(chr(92) || 'u%04x' || chr(92) || 'u%04x', "
    "unicode(__c), 56320 + ((unicode(__c) - 65536) & 1023)) "
    "WHEN unicode(__c) > 127 THEN printf(chr(92) || 'u%04x', unicode(__c)) ELSE __c END"
)


def json_quote(n: exp.Anonymous) -> exp.Expr:
    """JSON_QUOTE(s): ``s`` as a JSON string literal, as Flink's JsonQuoteFunction writes it."""
    (value,) = n.expressions
    return template(
        f"chr(34) || array_to_string(list_transform(string_split({{s}}, ''), __c -> {_QUOTED}), '') "
        "|| chr(34)",
        s=value,
    )


# JsonUnquoteFunction reads the text between the first and the last character, escape by
# escape: a surrogate pair's two \\u escapes make one character, a lone surrogate is '?' as
# Flink's UTF-8 encoder writes it
_ESCAPE = r"\\u[dD][89abAB][0-9a-fA-F]{{2}}\\u[dD][c-fC-F][0-9a-fA-F]{{2}}|\\u[0-9a-fA-F]{{4}}|\\.|."
_SURROGATE = r"\\u[dD][89a-fA-F]"  # a lone surrogate escape: Jackson reads it, DuckDB does not
_HEX = "('0x' || substring(__t, {at}, 4))::INTEGER"
_UNQUOTED = (
    "CASE WHEN length(__t) = 1 THEN __t WHEN __t[2] IN (chr(34), chr(92), '/') THEN __t[2] "
    "WHEN __t[2] = 'b' THEN chr(8) WHEN __t[2] = 'f' THEN chr(12) WHEN __t[2] = 'n' THEN chr(10) "
    "WHEN __t[2] = 'r' THEN chr(13) WHEN __t[2] = 't' THEN chr(9) "
    f"WHEN length(__t) = 12 "
    f"THEN chr(65536 + (({_HEX.format(at=3)} - 55296) << 10) + ({_HEX.format(at=9)} - 56320)) "
    f"WHEN length(__t) = 6 AND {_HEX.format(at=3)} BETWEEN 55296 AND 57343 THEN '?' "
    f"WHEN length(__t) = 6 THEN chr({_HEX.format(at=3)}) "
    "ELSE error('JSON_UNQUOTE: illegal escape sequence ' || __t) END"
)


# The JSON string at the start of a text: Jackson reads the first value and ignores the rest
_FIRST_STRING = r'^"(?:[^"\\]|\\.)*"'


def json_unquote(n: exp.Anonymous) -> exp.Expr:
    """JSON_UNQUOTE(s): a text in quotes that starts with a JSON string ('"a"', also
    '"a"b"', which Jackson reads as "a" and the rest it ignores) without its first and last
    character, its escapes read; other text (an object, a number, not JSON) as it is."""
    (value,) = n.expressions
    inner = "substring({s}, 2, greatest(length({s}) - 2, 0))"
    return template(
        "CASE WHEN {s} IS NULL THEN NULL "
        "WHEN NOT (length({s}) >= 2 AND {s} LIKE '\"%\"' AND coalesce(json_valid("
        f"regexp_replace(regexp_extract({{s}}, '{_FIRST_STRING}'), '{_SURROGATE}', '\\\\u00', 'g')), false)) "
        "THEN {s} ELSE "
        f"array_to_string(list_transform(regexp_extract_all({inner}, '{_ESCAPE}', 0, 's'), "
        f"__t -> {_UNQUOTED}), '') END",
        s=value,
    )


def json_object_text(n: JsonObjectText) -> exp.Expr:
    """JSON_OBJECTAGG's text from its sorted list of (key, value text) structs: a key held
    twice fails the job as Flink's does, as does a NULL key."""
    k, v = '__e."EXPR$0"', '__e."EXPR$1"'
    return template(
        f"CASE WHEN list_bool_or(list_transform({{m}}, __e -> {k} IS NULL)) "
        "THEN error('JSON_OBJECTAGG: a NULL key') "
        f"WHEN len(list_distinct(list_transform({{m}}, __e -> {k}))) < len({{m}}) "
        "THEN error('JSON_OBJECTAGG: a key is already present; duplicate keys are not allowed') "
        f"ELSE '{{{{' || array_to_string(list_transform({{m}}, __e -> to_json(CAST({k} AS VARCHAR)) "
        f"|| ':' || coalesce({v}, 'null')), ',') || '}}}}' END",
        m=n.this,
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    JsonObjectText: json_object_text,
    "JSON_QUOTE": json_quote,
    "JSON_UNQUOTE": json_unquote,
    exp.JSONObject: json_object,
    JsonValue: json_value,
    JsonQuery: json_query,
    JsonExists: json_exists,
    JsonArray: json_array,
    exp.Is: is_json,
}
