"""Flink's scalar functions whose DuckDB namesake means something else, rewritten so that
DuckDB computes Flink's answer (Flink 2.x's SqlFunctionUtils, DateTimeUtils and the docs'
function list are the reference; tests/unit/sqlstream/test_flink_semantics.py pins each).

Each rewrite receives the node with its children already in DuckDB's terms and returns a
DuckDB expression; :data:`REWRITES` maps the sqlglot node class (or an anonymous
function's upper-case name) to its rewrite.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from sqlglot import exp

from catalog.types import INT, DataType
from planner import json_functions, regex_literal
from planner.arrays import REWRITES as _COLLECTION_REWRITES
from planner.dateformat import date_format
from planner.errors import UnsupportedError
from planner.java_random import REWRITES as _RANDOM_REWRITES
from planner.lenient_time import lenient_date, parse_timestamp
from planner.numeric import template, wrap_sql
from planner.strings import REWRITES as _STRING_REWRITES
from planner.urls import REWRITES as _URL_REWRITES
from planner.zones import REWRITES as _ZONE_REWRITES

Rewrite = Callable[[exp.Expr], exp.Expr]

# Flink's valid epoch range (DateTimeUtils.MIN/MAX_EPOCH_MILLS): outside it, NULL.
_MIN_EPOCH_MILLIS = -62167219200000
_MAX_EPOCH_MILLIS = 253402300799999
_LONG_MIN = -(2**63)
_DEFAULT_TIMESTAMP = r"^\s*\d{1,4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}"


def _args(n: exp.Expr) -> list[exp.Expr]:
    return [n.this, *n.expressions] if n.this is not None else list(n.expressions)


def _day_of_week(n: exp.Expr) -> exp.Expr:
    """Flink counts 1 = Sunday .. 7 = Saturday; DuckDB's dayofweek 0 = Sunday."""
    return template("dayofweek({x}) + 1", x=n.this)


def _timestampdiff(n: exp.Expr) -> exp.Expr:
    """Flink counts whole units elapsed (10:00 to the day after next 09:00 is 1 day);
    DuckDB's date_diff counts boundaries crossed, its date_sub counts whole units."""
    unit = n.args.get("unit")
    text = (unit.name if unit is not None else "").lower()
    diff = exp.Anonymous(this="date_sub", expressions=[exp.Literal.string(text), n.expression, n.this])
    return template(wrap_sql("{d}", INT), d=diff)  # Flink's (int) of the long difference


def _regexp_extract(n: exp.Expr) -> exp.Expr:
    """NULL when nothing matches or the group index exceeds the pattern's groups
    (SqlFunctionUtils.regexpExtract); DuckDB gives ''."""
    group = n.args.get("group")
    index = 0
    if group is not None:
        if not group.is_int:
            raise UnsupportedError("REGEXP_EXTRACT with a group index that is not a constant")
        index = int(group.name)
    pattern = n.expression
    groups = None
    if pattern.is_string:
        with contextlib.suppress(re.error):
            groups = re.compile(pattern.name).groups
        if groups is not None and (index > groups or index < 0):
            return exp.cast(exp.null(), "VARCHAR")
    if groups is not None and (literal := regex_literal.required_literal(pattern.name)) is not None:
        return template(regex_literal.extract_template(literal, index), s=n.this, p=pattern)
    extract = "CASE WHEN regexp_matches({s}, {p}) THEN regexp_extract({s}, {p}, " + str(index) + ") END"
    # A pattern Java cannot compile makes Flink's answer NULL (it catches the error).
    return template(extract if groups is not None else f"try({extract})", s=n.this, p=pattern)


def _greatest_least(n: exp.Expr) -> exp.Expr:
    """Flink's GREATEST/LEAST are NULL when any argument is NULL; DuckDB skips NULLs."""
    args = _args(n)
    name = "greatest" if isinstance(n, exp.Greatest) else "least"
    any_null = exp.or_(*(exp.Is(this=a.copy(), expression=exp.null()) for a in args))
    return exp.Case(ifs=[exp.If(this=any_null, true=exp.null())], default=exp.func(name, *args))


def _sqrt(n: exp.Expr) -> exp.Expr:
    """Flink's SQRT is Math.pow(x, 0.5), whose square root of -0.0 is 0.0 (Math.sqrt's and
    DuckDB's is -0.0)."""
    return template("sqrt({x}) + 0.0", x=n.this)


def _power(n: exp.Expr) -> exp.Expr:
    """Java's Math.pow: a NaN exponent gives NaN, and so does 1 or -1 to an infinite power
    (C's pow, which DuckDB calls, gives 1 for both)."""
    return template(
        "CASE WHEN isnan(CAST({e} AS DOUBLE)) "
        "OR (abs(CAST({b} AS DOUBLE)) = 1 AND isinf(CAST({e} AS DOUBLE))) "
        "THEN CAST('NaN' AS DOUBLE) ELSE pow({b}, {e}) END",
        b=n.this,
        e=n.expression,
    )


def _upper(n: exp.Expr) -> exp.Expr:
    """Java's toUpperCase maps 'ß' to 'SS' (full case mapping); DuckDB's gives 'ẞ'."""
    return template("upper(replace({s}, 'ß', 'SS'))", s=n.this)


def _initcap(n: exp.Expr) -> exp.Expr:
    """Calcite's initcap, which Flink runs: a word is a run of ASCII letters and digits;
    its first letter is upper-cased and the rest lower-cased, everything else kept."""
    return template(
        "array_to_string(list_transform(string_split({s}, ''), (c, i) -> CASE "
        "WHEN i > 1 AND regexp_matches(string_split({s}, '')[i - 1], '^[A-Za-z0-9]$') "
        "THEN (CASE WHEN c BETWEEN 'A' AND 'Z' THEN lower(c) ELSE c END) "
        "ELSE (CASE WHEN c BETWEEN 'a' AND 'z' THEN upper(c) ELSE c END) END), '')",
        s=n.this,
    )


def _replace(n: exp.Expr) -> exp.Expr:
    """Java's String.replace: an empty search string matches before every character and
    at the end ('ab' -> 'XaXbX', '' -> 'X'); DuckDB leaves the string alone."""
    return template(
        "CASE WHEN {f} = '' THEN {r} || array_to_string(list_transform(string_split({s}, ''), "
        "c -> c || {r}), '') ELSE replace({s}, {f}, {r}) END",
        s=n.this,
        f=n.expression,
        r=n.args["replacement"],
    )


def _similar_to(n: exp.Expr) -> exp.Expr:
    """SQL's SIMILAR TO: '%' and '_' are wildcards, '.', '^', '$' and '\\' literal, the rest
    is regular-expression syntax, and the pattern must match the whole string."""
    return template(
        "regexp_full_match({s}, replace(replace(regexp_replace({p}, '([.^$\\\\])', '\\\\\\1', 'g'), "
        "'%', '.*'), '_', '.'))",
        s=n.this,
        p=n.expression,
    )


def _split(n: exp.Expr) -> exp.Expr:
    """Flink's SPLIT takes a plain delimiter, not a regular expression; '' has no parts."""
    return template(
        "CASE WHEN {d} IS NULL THEN NULL WHEN {s} = '' THEN CAST([] AS VARCHAR[]) "
        "ELSE string_split({s}, {d}) END",
        s=n.this,
        d=n.expression,
    )


def _pad(n: exp.Expr) -> exp.Expr:
    """LPAD/RPAD: NULL for a negative length or an empty pad (DuckDB fails on the latter)."""
    name = "lpad" if n.args.get("is_left") else "rpad"
    return template(
        "CASE WHEN {n} < 0 OR {p} = '' THEN NULL ELSE " + name + "({s}, TRY_CAST({n} AS INTEGER), {p}) END",
        s=n.this,
        n=n.expression,
        p=n.args.get("fill_pattern") or exp.Literal.string(" "),
    )


def _left_right(n: exp.Expr) -> exp.Expr:
    """LEFT/RIGHT with a negative length give '' (DuckDB counts from the other end)."""
    name = "left" if isinstance(n, exp.Left) else "right"
    return template("CASE WHEN {n} < 0 THEN '' ELSE " + name + "({s}, {n}) END", s=n.this, n=n.expression)


def _ascii(n: exp.Expr) -> exp.Expr:
    """ASCII: the first byte of the UTF-8 encoding, as a signed Java byte ('ß' is -61)."""
    byte = template(
        "CASE WHEN {s} = '' THEN 0 ELSE CAST(('0x' || left(hex(encode({s})), 2)) AS INTEGER) END",
        s=n.this,
    )
    return template("CASE WHEN {b} >= 128 THEN {b} - 256 ELSE {b} END", b=byte)


def _extract(n: exp.Expr) -> exp.Expr:
    """EXTRACT as Flink: EPOCH counts whole seconds (DuckDB's has a fraction), MILLISECOND
    is 0-999, DOW counts from Sunday = 1."""
    unit = n.this.name.upper()
    if unit == "EPOCH":
        return template("CAST(trunc(epoch({x})) AS BIGINT)", x=n.expression)
    if unit == "MILLISECOND":  # the milliseconds of the second, not of the minute
        return template("CAST(millisecond({x}) % 1000 AS BIGINT)", x=n.expression)
    if unit == "DOW":  # 1 = Sunday, as DAYOFWEEK
        return template("dayofweek({x}) + 1", x=n.expression)
    return n


def _uuid(n: exp.Expr) -> exp.Expr:
    return template("CAST(uuid() AS VARCHAR)")


def _e(n: exp.Expr) -> exp.Expr:
    return template("exp(1)")


def _unix_timestamp(n: exp.Expr) -> exp.Expr:
    """UNIX_TIMESTAMP(s): SimpleDateFormat reads a leading 'yyyy-MM-dd HH:mm:ss' and ignores
    what follows ('.123'); a string it cannot read gives Long.MIN_VALUE, not an error
    (DateTimeUtils.unixTimestamp). UNIX_TIMESTAMP() is the current time."""
    if isinstance(n.this, exp.CurrentTimestamp):
        return template("CAST(epoch(get_current_timestamp()) AS BIGINT)")
    fmt = n.args.get("format")
    # sqlglot's Spark time mapping marks strictly read fields ('%dstrict'); SimpleDateFormat
    # reads them leniently, as strptime does
    pattern = fmt.name.replace("strict", "") if fmt is not None and fmt.is_string else None
    if fmt is None or pattern == "%Y-%m-%d %H:%M:%S":
        parsed = template(
            "try_strptime(regexp_extract({s}, '"
            + _DEFAULT_TIMESTAMP.replace("{", "{{").replace("}", "}}")
            + "'), '%Y-%m-%d %H:%M:%S')",
            s=n.this,
        )
    elif pattern is not None:
        parsed = template("try_strptime({s}, {f})", s=n.this, f=exp.Literal.string(pattern))
    else:
        raise UnsupportedError("UNIX_TIMESTAMP with a format that is not a constant")
    return template(
        "CASE WHEN {s} IS NULL THEN NULL "  # read in the session's time zone
        f"ELSE coalesce(CAST(epoch(CAST({{t}} AS TIMESTAMPTZ)) AS BIGINT), {_LONG_MIN}) END",
        s=n.this,
        t=parsed,
    )


# DateTimeUtils.parseTimestampData: 'yyyy-M-d[ H:m[:s[.fraction]]]', a day past the
# month's end (up to 31) moved back to its last day (java.time's SMART resolver), NULL
# for text it cannot read; the fraction cut to milliseconds (TIMESTAMP(3)).
_TIMESTAMP_TEXT = (
    r"^\s*(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})"
    r"(?:[ T](\d{{1,2}}):(\d{{1,2}})(?::(\d{{1,2}})(?:\.(\d{{1,9}}))?)?)?\s*$"
)
_TO_TIMESTAMP = (
    f"list_transform([regexp_extract({{s}}, '{_TIMESTAMP_TEXT}', "
    "['y', 'mo', 'd', 'h', 'mi', 'sec', 'frac'])], "
    "__p -> CASE WHEN __p.y <> '' AND CAST(__p.d AS INTEGER) <= 31 THEN try(date_trunc('millisecond', "
    "make_timestamp(CAST(__p.y AS BIGINT), CAST(__p.mo AS BIGINT), least(CAST(__p.d AS BIGINT), "
    "day(last_day(make_date(CAST(__p.y AS INTEGER), CAST(__p.mo AS INTEGER), 1)))), "
    "coalesce(CAST(nullif(__p.h, '') AS BIGINT), 0), coalesce(CAST(nullif(__p.mi, '') AS BIGINT), 0), "
    "coalesce(CAST(nullif(__p.sec, '') AS DOUBLE), 0)) "
    "+ to_microseconds(coalesce(CAST(nullif(left(rpad(__p.frac, 6, '0'), 6), '') AS BIGINT), 0)))) END)[1]"
)


def _to_timestamp(n: exp.Anonymous) -> exp.Expr:
    (value,) = n.expressions
    return template(_TO_TIMESTAMP, s=value)


def _str_to_time(n: exp.Expr) -> exp.Expr:
    """TO_TIMESTAMP(s, format): Timestamp.valueOf's reading where the format does not fit,
    NULL for text neither reads (Flink catches the parse error), milliseconds kept; a quoted
    'T' in the Java format is literal text."""
    fmt = n.args.get("format")
    if fmt is None or not fmt.is_string:
        raise UnsupportedError("TO_TIMESTAMP with a format that is not a constant")
    text = fmt.name.replace("strict", "").replace("''", "\0")  # '' is a quote in Java
    pattern = re.sub(r"'([^']*)'", r"\1", text).replace("\0", "'")
    return parse_timestamp(n.this, pattern)


def _to_date(n: exp.TsOrDsToDate) -> exp.Expr:
    """TO_DATE(s, format): read by a lenient SimpleDateFormat (DateTimeUtils.parseDate)."""
    fmt = n.args.get("format")
    if fmt is None:
        return n
    if not fmt.is_string:
        raise UnsupportedError("TO_DATE with a format that is not a constant")
    return lenient_date(n.this, fmt.name)


def date_format_call(n: exp.Expr, source: DataType) -> exp.Expr:
    """DATE_FORMAT(x, pattern): a TIMESTAMP_LTZ in the session's zone; a STRING read as
    'yyyy-MM-dd HH:mm:ss' by a prefix (SimpleDateFormat.parse: the rest is ignored), and
    NULL when it does not start so (DateTimeUtils.formatTimestampString)."""
    fmt = n.args.get("format")
    if fmt is None or not fmt.is_string:
        raise UnsupportedError("DATE_FORMAT with a pattern that is not a constant")
    if source.is_string:
        stamp = template(
            "TRY_CAST(regexp_extract({s}, '^(\\d{{1,4}}-\\d{{1,2}}-\\d{{1,2}} "
            "\\d{{1,2}}:\\d{{1,2}}:\\d{{1,2}})', 1) AS TIMESTAMP)",
            s=n.this,
        )
    else:
        stamp = template("CAST({x} AS TIMESTAMP)", x=n.this)
    return date_format(stamp, fmt.name)


def to_timestamp_ltz(epoch: exp.Expr, precision: int) -> exp.Expr:
    """TO_TIMESTAMP_LTZ(epoch, 0 | 3): NULL outside years 0000-9999 (DateTimeUtils)."""
    millis = "CAST(trunc({e}) AS BIGINT) * 1000" if precision == 0 else "CAST(trunc({e}) AS BIGINT)"
    # exact milliseconds (DuckDB's to_timestamp goes through a DOUBLE of seconds)
    return template(
        f"CASE WHEN ({{e}}) BETWEEN {_MIN_EPOCH_MILLIS // (1000 if precision == 0 else 1)} "
        f"AND {_MAX_EPOCH_MILLIS // (1000 if precision == 0 else 1)} "
        f"THEN TIMESTAMPTZ '1970-01-01 00:00:00+00' + to_microseconds({millis} * 1000) END",
        e=epoch,
    )


def _to_base64(n: exp.Expr) -> exp.Expr:
    return template("to_base64(encode({s}))", s=n.this)


def _from_base64(n: exp.Expr) -> exp.Expr:
    return template("try(decode(from_base64({s})))", s=n.this)


def _json_string(n: exp.Anonymous) -> exp.Expr:
    """JSON_STRING: a DECIMAL keeps its scale (Jackson writes the BigDecimal, 1.50); a
    DOUBLE is written as the BigDecimal Flink makes of it (1.0E+308, runtime.json_text)."""
    (value,) = n.expressions
    return template(
        "CASE WHEN {v} IS NULL THEN NULL WHEN typeof({v}) LIKE 'DECIMAL%' THEN CAST({v} AS VARCHAR) "
        "WHEN typeof({v}) IN ('DOUBLE', 'FLOAT') THEN flink_json_double(TRY_CAST({v} AS DOUBLE)) "
        "ELSE CAST(to_json({v}) AS VARCHAR) END",
        v=value,
    )


def _bin(n: exp.Anonymous) -> exp.Expr:
    """Long.toBinaryString: a negative number in 64-bit two's complement."""
    (value,) = n.expressions
    return template("bin(CAST({v} AS BIGINT))", v=value)


def _is_digit(n: exp.Anonymous) -> exp.Expr:
    """IS_DIGIT: every character a (Unicode) digit, not empty; NULL is FALSE."""
    (value,) = n.expressions
    return template("coalesce(regexp_full_match({v}, '\\p{{Nd}}+'), false)", v=value)


def _is_alpha(n: exp.Anonymous) -> exp.Expr:
    (value,) = n.expressions
    return template("coalesce(regexp_full_match({v}, '\\p{{L}}+'), false)", v=value)


def _regexp(n: exp.Anonymous) -> exp.Expr:
    """REGEXP(s, p): some substring of s matches p; an empty pattern is FALSE."""
    s, p = n.expressions
    if p.is_string and (literal := regex_literal.required_literal(p.name)) is not None:
        return template(regex_literal.matches_template(literal), s=s, p=p)
    return template("CASE WHEN {p} = '' THEN false ELSE regexp_matches({s}, {p}) END", s=s, p=p)


def _sha2(n: exp.Expr) -> exp.Expr:
    """SHA2(s, 256): DuckDB has SHA-256 only; other lengths are refused by name."""
    length = n.args.get("length")
    if length is None or not length.is_int or int(length.name) != 256:
        raise UnsupportedError("SHA2 with a hash length other than the constant 256")
    return template("sha256({s})", s=n.this)


def _charset(n: exp.Expr, name: str) -> None:
    charset = n.args.get("charset")
    if charset is None or not charset.is_string or charset.name.upper().replace("-", "") != "UTF8":
        raise UnsupportedError(f"{name} with a character set other than 'UTF-8'")


def _encode(n: exp.Expr) -> exp.Expr:
    _charset(n, "ENCODE")
    return template("encode({s})", s=n.this)


def _decode(n: exp.Expr) -> exp.Expr:
    _charset(n, "DECODE")
    return template("decode({b})", b=n.this)


def _translate(n: exp.Expr) -> exp.Expr:
    """TRANSLATE(s, from, to): a character of from is replaced by the one at its index in
    to, or dropped when to is shorter (Calcite's translate3, as DuckDB's translate)."""
    return template("translate({s}, {f}, {t})", s=n.this, f=n.args["from_"], t=n.args["to"])


def _array_join(n: exp.Expr) -> exp.Expr:
    """ARRAY_JOIN(a, sep[, null]): NULL elements are skipped, or spelled as the third
    argument."""
    null = n.args.get("null")
    if null is None:  # a NULL separator makes the answer NULL (DuckDB skips it)
        return template(
            "CASE WHEN {d} IS NOT NULL THEN array_to_string({a}, {d}) END", a=n.this, d=n.expression
        )
    return template(
        "CASE WHEN {n} IS NULL OR {d} IS NULL THEN NULL "
        "ELSE array_to_string(list_transform({a}, __x -> coalesce(__x, {n})), {d}) END",
        a=n.this,
        d=n.expression,
        n=null,
    )


def _local_time(n: exp.Expr) -> exp.Expr:
    """CURRENT_TIME: the session zone's wall time, TIME(0) (DuckDB's CURRENT_TIME is a TIME
    WITH TIME ZONE)."""
    return template("CAST(CAST(date_trunc('second', get_current_timestamp()) AS TIMESTAMP) AS TIME)")


def _regexp_count(n: exp.Expr) -> exp.Expr:
    """REGEXP_COUNT(s, p): how many times p matches s, one match after the other."""
    return template("CAST(len(regexp_extract_all({s}, {p})) AS INTEGER)", s=n.this, p=n.expression)


def _regexp_substr(n: exp.Expr) -> exp.Expr:
    """REGEXP_SUBSTR(s, p): the first match, NULL when there is none."""
    return template(
        "CASE WHEN regexp_matches({s}, {p}) THEN regexp_extract({s}, {p}) END", s=n.this, p=n.expression
    )


def _regexp_instr(n: exp.Expr) -> exp.Expr:
    """REGEXP_INSTR(s, p): where (counting characters from 1) the first match starts, 0 when
    none: the shortest prefix after which p matches is what precedes the leftmost match."""
    if not n.expression.is_string:
        raise UnsupportedError("REGEXP_INSTR with a pattern that is not a constant")
    prefixed = exp.Literal.string(f"(?s)^(.*?)(?:{n.expression.name})")
    return template(
        "CASE WHEN regexp_matches({s}, {q}) THEN CAST(length(regexp_extract({s}, {q}, 1)) + 1 AS INTEGER) "
        "WHEN {s} IS NOT NULL THEN 0 END",
        s=n.this,
        q=prefixed,
    )


def _regexp_extract_all(n: exp.Expr) -> exp.Expr:
    """REGEXP_EXTRACT_ALL(s, p[, group]): every match's group (1 by default, 0 the match)."""
    group = n.args.get("group")
    if group is not None and not group.is_int:
        raise UnsupportedError("REGEXP_EXTRACT_ALL with a group index that is not a constant")
    index = int(group.name) if group is not None else 1
    return template(f"regexp_extract_all({{s}}, {{p}}, {index})", s=n.this, p=n.expression)


def _btrim(n: exp.Anonymous) -> exp.Expr:
    """BTRIM(s[, chars]): both ends trimmed of spaces, or of the given characters."""
    return exp.func("trim", *n.expressions)


def _elt(n: exp.Expr) -> exp.Expr:
    """ELT(i, e1, e2, ...): the i-th expression; NULL when i is NULL or out of range."""
    index, values = n.this, n.expressions
    return exp.Case(
        this=index,
        ifs=[exp.If(this=exp.Literal.number(i + 1), true=v) for i, v in enumerate(values)],
    )


_HASH_STEP = (
    "(a, b) -> CASE WHEN b > 65535 "  # a supplementary character is two UTF-16 units
    "THEN (a * 961 + (55296 + ((b - 65536) >> 10)) * 31 + (56320 + ((b - 65536) & 1023))) % 4294967296 "
    "ELSE (a * 31 + b) % 4294967296 END"
)


_INT32 = "((({h}) + 2147483648) & 4294967295) - 2147483648"  # Java's (int) of a long


def hash_code_call(n: exp.Anonymous, arg: DataType) -> exp.Expr:
    """HASH_CODE(x): the Java hashCode of the value Flink holds. A string's is made absolute
    (:func:`_hash_code`); a number's is its boxed type's: an int's is itself, a long's
    ``(int) (v ^ v >>> 32)``, a DECIMAL's BigDecimal's ``31 * unscaled.hashCode() + scale``
    (BigInteger's hash of its 32-bit magnitude words, times its sign), a BOOLEAN's 1231 or
    1237, a DOUBLE's or FLOAT's that of its bits (:mod:`runtime.java_hash`)."""
    (value,) = n.expressions
    if arg.is_string:
        return _hash_code(n)
    if arg.name in ("TINYINT", "SMALLINT", "INT"):
        return template("CAST({x} AS INTEGER)", x=value)
    if arg.name == "BOOLEAN":
        return template("CASE WHEN {x} THEN 1231 WHEN NOT {x} THEN 1237 END", x=value)
    if arg.name == "BIGINT":
        bits = "((CAST({x} AS HUGEINT) + 18446744073709551616) % 18446744073709551616)"
        folded = f"xor({bits} >> 32, {bits} & 4294967295)"
        return template(f"CAST({_INT32.format(h=folded)} AS INTEGER)", x=value)
    if arg.name == "DECIMAL":
        unscaled = "CAST(replace(CAST({x} AS VARCHAR), '.', '') AS HUGEINT)"
        words = " + ".join(f"((abs({unscaled}) >> {32 * i}) & 4294967295) * {31**i}" for i in range(4))
        magnitude = _INT32.format(h=f"({words}) % 4294967296")
        signed = _INT32.format(h=f"({magnitude}) * sign({unscaled})")
        return template(f"CAST({_INT32.format(h=f'31 * ({signed}) + {arg.scale or 0}')} AS INTEGER)", x=value)
    if arg.name in ("DOUBLE", "FLOAT"):  # its bits, which runtime.java_hash reads
        is_float = "TRUE" if arg.name == "FLOAT" else "FALSE"
        return template(f"flink_float_hash(CAST({{x}} AS DOUBLE), {is_float})", x=value)
    raise UnsupportedError(f"HASH_CODE of a {arg.with_nullable(True).sql()} is not supported yet")


def _hash_code(n: exp.Anonymous) -> exp.Expr:
    """HASH_CODE(s): the absolute value (Math.abs: MIN_VALUE stays) of Java's String.hashCode,
    s[0]*31^(n-1) + ... over UTF-16 units."""
    (value,) = n.expressions
    codes = "list_transform(string_split({s}, ''), c -> unicode(c)::BIGINT)"
    h = f"((list_reduce([0::BIGINT] || {codes}, {_HASH_STEP}) + 2147483648) % 4294967296 - 2147483648)"
    return template(
        f"CASE WHEN {{s}} = '' THEN 0 WHEN {h} = -2147483648 THEN -2147483648 "
        f"ELSE CAST(abs({h}) AS INTEGER) END",
        s=value,
    )


def _cardinality(n: exp.Anonymous) -> exp.Expr:
    """CARDINALITY(array | map): its number of elements or entries."""
    (value,) = n.expressions
    return template("CAST(cardinality({x}) AS INTEGER)", x=value)


def _element(n: exp.Anonymous) -> exp.Expr:
    """ELEMENT(array): its one element; NULL for an empty or NULL array; more than one
    element fails the job, as Flink's does."""
    (value,) = n.expressions
    message = exp.Literal.string("ELEMENT: the array has more than one element")
    return template(
        "CASE WHEN len({a}) > 1 THEN error({m}) WHEN len({a}) = 1 THEN {a}[1] END", a=value, m=message
    )


REWRITES: dict[type[exp.Expr] | str, Callable[..., exp.Expr]] = {
    exp.RegexpCount: _regexp_count,
    exp.RegexpSubstr: _regexp_substr,
    exp.RegexpInstr: _regexp_instr,
    exp.RegexpExtractAll: _regexp_extract_all,
    exp.Elt: _elt,
    "BTRIM": _btrim,
    "CARDINALITY": _cardinality,
    "ELEMENT": _element,
    exp.CurrentTime: _local_time,
    exp.DayOfWeek: _day_of_week,
    exp.TimestampDiff: _timestampdiff,
    exp.RegexpExtract: _regexp_extract,
    exp.Greatest: _greatest_least,
    exp.Least: _greatest_least,
    exp.Upper: _upper,
    exp.Sqrt: _sqrt,
    exp.Pow: _power,
    exp.Initcap: _initcap,
    exp.Replace: _replace,
    exp.SimilarTo: _similar_to,
    exp.RegexpSplit: _split,
    exp.StrToUnix: _unix_timestamp,
    exp.Pad: _pad,
    exp.Left: _left_right,
    exp.Right: _left_right,
    exp.Ascii: _ascii,
    exp.Extract: _extract,
    exp.Uuid: _uuid,
    "E": _e,
    exp.ToBase64: _to_base64,
    exp.FromBase64: _from_base64,
    **json_functions.REWRITES,
    "JSON_STRING": _json_string,
    "BIN": _bin,
    "IS_DIGIT": _is_digit,
    "IS_ALPHA": _is_alpha,
    "REGEXP": _regexp,
    "TO_TIMESTAMP": _to_timestamp,
    exp.StrToTime: _str_to_time,
    exp.TsOrDsToDate: _to_date,
    exp.SHA2: _sha2,
    exp.Encode: _encode,
    exp.Decode: _decode,
    exp.Translate: _translate,
    exp.ArrayToString: _array_join,
    **_COLLECTION_REWRITES,
    **_URL_REWRITES,
    **_ZONE_REWRITES,
    **_STRING_REWRITES,
    **_RANDOM_REWRITES,
}
