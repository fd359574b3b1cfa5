"""Flink's string functions whose edges DuckDB's namesakes do not share: LOCATE with a start,
OVERLAY, IS_DECIMAL, STR_TO_MAP, SPLIT_INDEX and PRINTF, as Flink 2.x computes them (SqlFunctionUtils,
BinaryStringData.indexOf, PrintfFunction; the oracle's ``tests/oracle/fixtures/strings.json``).

Each rewrite receives its node with the children already in DuckDB's terms.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from catalog.types import DataType
from planner.arrays import map_of
from planner.errors import PlanError, UnsupportedError
from planner.numeric import template
from planner.regex_literal import PLAIN


def _locate(n: exp.StrPosition) -> exp.Expr:
    """LOCATE(seek, s[, from]): BinaryStringData.indexOf(seek, from - 1) + 1. An empty seek is
    found at 1 wherever the search starts; a start below 1 searches from the first character.
    NULL for any NULL argument (DuckDB's greatest skips a NULL start)."""
    s, seek, start = n.this, n.args["substr"], n.args.get("position")
    if start is None:
        sql = "CASE WHEN {t} = '' AND {s} IS NOT NULL THEN 1 ELSE strpos({s}, {t}) END"
        return template(sql, s=s, t=seek)
    return template(
        "CASE WHEN {p} IS NULL THEN NULL WHEN {t} = '' AND {s} IS NOT NULL THEN 1 "
        "WHEN strpos(substring({s}, greatest({p}, 1)), {t}) = 0 THEN 0 "
        "ELSE strpos(substring({s}, greatest({p}, 1)), {t}) + greatest({p}, 1) - 1 END",
        s=s,
        t=seek,
        p=start,
    )


def _overlay(n: exp.Overlay) -> exp.Expr:
    """OVERLAY(s PLACING r FROM start [FOR length]): s unchanged for a start outside it; the
    rest of s after the replaced part is kept only when it is not empty and length > 0, so
    ``FOR 0`` drops it (SqlFunctionUtils.overlay). The length defaults to r's."""
    s, r, start = n.this, n.expression, n.args["from_"]
    length = n.args.get("for_") or template("length({r})", r=r)
    return template(
        "CASE WHEN {s} IS NULL OR {r} IS NULL OR {p} IS NULL OR {l} IS NULL THEN NULL "
        "WHEN {p} <= 0 OR {p} > length({s}) THEN {s} "
        "ELSE substring({s}, 1, {p} - 1) || {r} || "
        "CASE WHEN {p} + {l} <= length({s}) AND {l} > 0 THEN substring({s}, {p} + {l}) ELSE '' END END",
        s=s,
        r=r,
        p=start,
        l=length,
    )


_DIGITS = "[0-9]+"
_EXPONENT = f"(?:[eE][+-]?{_DIGITS})"
# Double.valueOf's grammar (its Javadoc), around Java's trim()
_JAVA_DOUBLE = (
    r"[\x00-\x20]*[+-]?(?:NaN|Infinity|(?:"
    f"(?:{_DIGITS}\\.?(?:{_DIGITS})?{_EXPONENT}?|\\.{_DIGITS}{_EXPONENT}?"
    r"|(?:0[xX][0-9a-fA-F]+\.?|0[xX][0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)"
    r"[fFdD]?))[\x00-\x20]*"
)
_JAVA_LONG = r"[+-]?\p{Nd}{1,18}"  # Long.parseLong takes any Unicode digit


def _is_decimal(n: exp.Anonymous) -> exp.Expr:
    """IS_DECIMAL(s): Integer.parseInt, Long.parseLong or Double.parseDouble reads s; FALSE
    for NULL and ''. (A 19-digit number of non-ASCII digits is read as no number.)"""
    (value,) = n.expressions
    double, long = (p.replace("{", "{{").replace("}", "}}") for p in (_JAVA_DOUBLE, _JAVA_LONG))
    return template(
        f"coalesce(regexp_full_match({{s}}, '{double}') OR regexp_full_match({{s}}, '{long}'), false)",
        s=value,
    )


def _str_to_map(n: exp.StrToMap) -> exp.Expr:
    """STR_TO_MAP(text[, pairs, kv]): text.split(pairs) (regular expressions, trailing empty
    parts dropped, as Java's split does), each part split once at kv; a part without kv maps
    to NULL, a repeated key keeps its last value; '' is the empty map."""
    text, pairs, kv = n.this, n.args["pair_delim"], n.args["key_value_delim"]
    split = "string_split" if plain_text(pairs) else "string_split_regex"
    parts = template(
        f"list_transform([{split}({{s}}, {{d}})], __a -> list_slice(__a, 1, coalesce(len(__a) + 1 "
        "- list_position(list_reverse(list_transform(__a, __x -> __x <> '')), true), 0)))[1]",
        s=text,
        d=pairs,
    )
    head = template("'(?s)^(.*?)(?:' || {k} || ')'", k=kv)
    # The parts are split once, bound to __parts, for the keys and the values both; a
    # delimiter of plain text is found as text, not as a regular expression.
    if plain_text(kv):
        keys_sql = "CASE WHEN contains(__p, {k}) THEN split_part(__p, {k}, 1) ELSE __p END"
        values_sql = "CASE WHEN contains(__p, {k}) THEN __p[strpos(__p, {k}) + length({k}):] END"
    else:
        keys_sql = "CASE WHEN regexp_matches(__p, {k}) THEN regexp_extract(__p, {h}, 1) ELSE __p END"
        values_sql = "CASE WHEN regexp_matches(__p, {k}) THEN regexp_replace(__p, {h}, '') END"
    keys = template(f"list_transform(__parts, __p -> {keys_sql})", k=kv, h=head)
    values = template(f"list_transform(__parts, __p -> {values_sql})", k=kv, h=head)
    return template(
        "CASE WHEN {s} IS NULL OR {d} IS NULL OR {k} IS NULL THEN NULL "
        "WHEN {s} = '' THEN map(CAST([] AS VARCHAR[]), CAST([] AS VARCHAR[])) "
        "ELSE list_transform([{a}], __parts -> {m})[1] END",
        s=text,
        d=pairs,
        k=kv,
        a=parts,
        m=map_of(keys, values),
    )


# Java's Character.isWhitespace: what Commons Lang splits on when the separator is empty
_JAVA_WHITESPACE = (
    r"[\t\n\x0B\f\r \x1C-\x1F\x{1680}\x{2000}-\x{2006}\x{2008}-\x{200A}\x{2028}\x{2029}\x{205F}\x{3000}]"
)


def _split_index(n: exp.Anonymous) -> exp.Expr:
    """SPLIT_INDEX(s, separator, i): Commons Lang's splitByWholeSeparatorPreserveAllTokens,
    as Flink's SqlFunctionUtils.splitIndex calls it. A negative i is NULL (DuckDB's list
    index counts from the end), '' has no parts (DuckDB's split has one, ''), and an empty
    separator splits at each whitespace character (DuckDB's, at each character)."""
    if len(n.expressions) != 3:
        return n
    s, separator, i = n.expressions
    whitespace: exp.Expr = exp.func("regexp_split_to_array", s, exp.Literal.string(_JAVA_WHITESPACE))
    if separator.is_string:  # the usual call: one split, known at plan time
        parts = whitespace if separator.name == "" else exp.func("string_split", s, separator)
    else:
        parts = template(
            "CASE WHEN {d} = '' THEN {w} ELSE string_split({s}, {d}) END", s=s, d=separator, w=whitespace
        )
    literal = isinstance(i, exp.Literal) and i.is_int
    if literal and separator.is_string and int(i.name) >= 1:
        # No CASE: both splits of '' have one part, '', so part 2 on is NULL as Flink's is.
        # Outside a CASE DuckDB computes one split for several SPLIT_INDEX of the same
        # string (Nexmark q22's three): 64k URLs in 9 ms, against 18 ms through the CASE.
        return exp.func("list_extract", parts, exp.Literal.number(int(i.name) + 1))
    negative = "" if literal else "{i} < 0 OR "  # 1, not -1
    unknown = "" if separator.is_string else "{d} IS NULL OR "  # string_split(s, NULL) is [s]
    sql = f"CASE WHEN {negative}{unknown}{{s}} = '' THEN NULL ELSE list_extract({{p}}, {{i}} + 1) END"
    return template(sql, s=s, p=parts, i=i, d=separator)


def plain_text(e: exp.Expr) -> bool:
    """A constant, non-empty regular expression that matches only itself (STR_TO_MAP's
    delimiters usually are)."""
    return e.is_string and bool(e.name) and all(c in PLAIN for c in e.name)


# Java's Formatter: %[index$][flags][width][.precision]conversion
_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")
_SUPPORTED = "sSdf%n"
_FLAGS = {"d": {"-", "0"}, "s": {"-"}, "S": {"-"}, "f": {"-", "#", "+", " ", "0", ",", "("}}


def printf_parts(fmt: str, types: list[DataType]) -> list[tuple[str, int | None, str]]:
    """The pieces of a PRINTF format: ``(text, None, '')`` for literal text, ``(spec,
    argument index, conversion)`` for a conversion; raises for what sqlstream cannot format
    as Java's Formatter does.

    >>> printf_parts('%s-%5d%%', [DataType('STRING'), DataType('INT')])
    [('%s', 0, 's'), ('-', None, ''), ('%5d', 1, 'd'), ('%', None, '')]
    """
    parts: list[tuple[str, int | None, str]] = []
    at, next_arg = 0, 0
    for m in _SPEC.finditer(fmt):
        if m.start() > at:
            parts.append((fmt[at : m.start()], None, ""))
        at = m.end()
        index, flags, _width, _precision, conv = m.groups()
        if conv not in _SUPPORTED or set(flags) - _FLAGS.get(conv, set()):
            raise UnsupportedError(f"PRINTF's conversion {m.group(0)!r} is not supported yet")
        if {"-", "0"} & set(flags) and _width is None:  # Java's MissingFormatWidthException
            raise PlanError(f"PRINTF's {m.group(0)!r} needs a width for its flag")
        if {"-", "0"} <= set(flags) or {"+", " "} <= set(flags):  # IllegalFormatFlagsException
            raise PlanError(f"PRINTF's {m.group(0)!r} has flags that exclude each other")
        if _precision is not None and conv not in "sSf":  # IllegalFormatPrecisionException
            raise PlanError(f"PRINTF's {m.group(0)!r} takes no precision")
        if conv == "%":
            parts.append(("%", None, ""))
            continue
        if conv == "n":
            parts.append(("\n", None, ""))
            continue
        arg = int(index) - 1 if index else next_arg
        if not index:
            next_arg += 1
        if not 0 <= arg < len(types):
            raise PlanError(f"PRINTF's format {fmt!r} needs an argument for {m.group(0)!r}")
        t = types[arg]
        if conv == "d" and not t.is_integral:
            raise PlanError(f"PRINTF's {m.group(0)!r} formats an integer, not a {t.sql()}")
        if conv == "f" and t.name not in ("DOUBLE", "FLOAT"):  # Flink passes a DecimalData: NULL
            raise PlanError(
                f"PRINTF's {m.group(0)!r} formats a DOUBLE or FLOAT, not a {t.sql()} "
                "(Flink gives NULL for the whole call): CAST it AS DOUBLE"
            )
        if conv in "sS" and not (t.is_numeric or t.is_string or t.name == "BOOLEAN"):
            raise UnsupportedError(f"PRINTF's {m.group(0)!r} of a {t.sql()} is not supported yet")
        parts.append((m.group(0), arg, conv))
    if at < len(fmt):
        parts.append((fmt[at:], None, ""))
    return parts


def printf_call(
    n: exp.Anonymous, types: list[DataType], java_text: Callable[[exp.Expr], exp.Expr]
) -> exp.Expr:
    """PRINTF(format, args...): Java's Formatter (Locale.US); a NULL argument prints 'null',
    a NULL format gives NULL. The format must be a constant: it is read when planning.
    ``java_text`` gives Java's Double.toString of a DOUBLE or FLOAT (its %s)."""
    fmt, *args = n.expressions
    if not fmt.is_string:
        raise UnsupportedError("PRINTF with a format that is not a constant")
    pieces: list[exp.Expr] = []
    for spec, arg, conv in printf_parts(fmt.name, types):
        if arg is None:
            pieces.append(exp.Literal.string(spec))
            continue
        m = _SPEC.fullmatch(spec)
        assert m is not None
        flags, width, precision = m.group(2), m.group(3), m.group(4)
        if conv == "f":  # runtime.java_format: rounding, signs, grouping and padding as Java's
            own = f"%{flags}{width or ''}{'' if precision is None else '.' + precision}f"  # no index
            call = "flink_printf_float(CAST({x} AS DOUBLE), {s})"
            pieces.append(template(call, x=args[arg], s=exp.Literal.string(own)))
            continue
        if conv == "d":
            text = template("printf({f}, {x})", f=exp.Literal.string(f"%{flags}{width or ''}d"), x=args[arg])
        else:
            approximate = types[arg].name in ("DOUBLE", "FLOAT")
            text = java_text(args[arg]) if approximate else template("CAST({x} AS VARCHAR)", x=args[arg])
            if precision is not None:
                text = template(f"left({{t}}, {int(precision)})", t=text)
        null = "null" if precision is None else "null"[: int(precision)]
        value = template("coalesce({t}, {n})", t=text, n=exp.Literal.string(null))
        if conv == "S":  # upper-cases 'null' too
            value = template("upper(replace({t}, 'ß', 'SS'))", t=value)
        if width is not None:
            pad = "rpad" if "-" in flags else "lpad"
            padded = f"{pad}({{v}}, CAST(greatest({int(width)}, length({{v}})) AS INTEGER), ' ')"
            value = template(padded, v=value)
        pieces.append(value)
    if not pieces:
        return exp.Literal.string("")
    return pieces[0] if len(pieces) == 1 else exp.func("concat", *pieces)


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    exp.StrPosition: _locate,
    exp.Overlay: _overlay,
    "IS_DECIMAL": _is_decimal,
    "SPLIT_INDEX": _split_index,
    exp.StrToMap: _str_to_map,
}
