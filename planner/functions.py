"""The functions a query may call, and the Flink type each returns: the one table that
type inference, SHOW FUNCTIONS, completion and the planner's refusals all read.

Names are Flink's. sqlglot parses many functions into nodes of its own whose SQL name
differs (``DAYOFWEEK`` is ``DAY_OF_WEEK``, ``LOCATE`` is ``STR_POSITION``);
:data:`SQLGLOT_NAMES` maps them back, so a function is known by one name everywhere.
A function not in these tables is refused by the planner, by name and position, rather
than handed to DuckDB to fail when the job runs.
"""

from __future__ import annotations

from catalog.types import BIGINT, BOOLEAN, DATE, DOUBLE, INT, STRING, TIMESTAMP3, DataType

ARG = "ARG"
"""Result rule: the type of the first argument."""
COMMON = "COMMON"
"""Result rule: the common type of all arguments."""
ELEMENT = "ELEMENT"
"""Result rule: the element type of the first argument, an array."""
MAP_KEYS = "MAP_KEYS"
"""Result rule: an array of the key type of the first argument, a map."""
MAP_VALUES = "MAP_VALUES"
"""Result rule: an array of the value type of the first argument, a map."""
MAP_ENTRIES = "MAP_ENTRIES"
"""Result rule: an array of ROW<key, value> of the first argument, a map."""
MAP_FROM_ARRAYS = "MAP_FROM_ARRAYS"
"""Result rule: a map from the element types of the two arguments, arrays."""

_LTZ = DataType("TIMESTAMP_LTZ", 3, nullable=False)

_STRING_FUNCS = (
    "UPPER", "LOWER", "TRIM", "LTRIM", "RTRIM", "CONCAT", "CONCAT_WS", "SUBSTRING", "SUBSTR",
    "REPLACE", "LPAD", "RPAD", "REGEXP_EXTRACT", "REGEXP_REPLACE", "SPLIT_INDEX", "DATE_FORMAT",
    "FROM_UNIXTIME", "INITCAP", "REVERSE", "REPEAT", "MD5", "SHA1", "SHA256", "LEFT", "RIGHT",
    "OVERLAY", "JSON_VALUE", "JSON_QUERY", "JSON_STRING", "UUID", "TO_BASE64", "FROM_BASE64",
    "CHR", "HEX", "BIN", "SHA2", "TRANSLATE", "DECODE", "ARRAY_JOIN", "JSON_OBJECT",
    "REGEXP_SUBSTR", "ELT", "BTRIM", "PARSE_URL", "URL_ENCODE", "URL_DECODE",
    "CONVERT_TZ", "JSON_ARRAY", "PRINTF", "JSON_QUOTE", "JSON_UNQUOTE",
)  # fmt: skip
_DOUBLE_FUNCS = (
    "SQRT", "LN", "LOG", "LOG10", "LOG2", "EXP", "POWER", "SIN", "COS", "TAN", "ASIN", "ACOS",
    "ATAN", "ATAN2", "DEGREES", "RADIANS", "RAND", "PI", "E", "COT", "SINH", "COSH", "TANH",
)  # fmt: skip
# Calcite's date-part functions (EXTRACT and its shorthands) return BIGINT in Flink.
_BIGINT_FUNCS = (
    "UNIX_TIMESTAMP", "EXTRACT", "YEAR", "QUARTER", "MONTH", "WEEK", "DAYOFYEAR", "DAYOFMONTH",
    "DAYOFWEEK", "HOUR", "MINUTE", "SECOND",
)  # fmt: skip
_INT_FUNCS = ("CHAR_LENGTH", "CHARACTER_LENGTH", "POSITION", "LOCATE", "INSTR", "ASCII",
              "HASH_CODE", "TIMESTAMPDIFF", "REGEXP_COUNT", "REGEXP_INSTR", "CARDINALITY",
              "RAND_INTEGER")  # fmt: skip
_BOOLEAN_FUNCS = ("REGEXP", "IS_ALPHA", "IS_DIGIT", "IS_DECIMAL", "JSON_EXISTS", "STARTSWITH", "ENDSWITH")
_TIMESTAMP_FUNCS = ("TO_TIMESTAMP", "LOCALTIMESTAMP", "TIMESTAMPADD")
# collection functions whose result has the type of their first argument
_SAME_COLLECTION_FUNCS = (
    "ARRAY_DISTINCT", "ARRAY_REMOVE", "ARRAY_REVERSE", "ARRAY_SLICE", "ARRAY_UNION", "ARRAY_CONCAT",
    "ARRAY_SORT", "ARRAY_EXCEPT", "ARRAY_INTERSECT", "ARRAY_PREPEND", "ARRAY_APPEND", "MAP_UNION",
)  # fmt: skip
_LTZ_FUNCS = ("PROCTIME", "CURRENT_ROW_TIMESTAMP", "CURRENT_TIMESTAMP", "NOW")

SCALARS: dict[str, DataType | str] = {
    **dict.fromkeys(_STRING_FUNCS, STRING),
    **dict.fromkeys(_DOUBLE_FUNCS, DOUBLE),
    **dict.fromkeys(_BIGINT_FUNCS, BIGINT),
    **dict.fromkeys(_INT_FUNCS, INT),
    **dict.fromkeys(_BOOLEAN_FUNCS, BOOLEAN),
    **dict.fromkeys(("SPLIT", "REGEXP_EXTRACT_ALL"), DataType("ARRAY", children=(STRING,))),
    "STR_TO_MAP": DataType("MAP", children=(STRING, STRING)),
    "ENCODE": DataType("BYTES"),
    **dict.fromkeys(_TIMESTAMP_FUNCS, TIMESTAMP3),
    # the clock's instant is a TIMESTAMP_LTZ; LOCALTIMESTAMP is local wall time
    **dict.fromkeys(_LTZ_FUNCS, _LTZ),
    "TO_TIMESTAMP_LTZ": _LTZ.with_nullable(True),  # NULL for NULL or text it cannot read
    "CURRENT_TIME": DataType("TIME", 0),
    **dict.fromkeys(("TO_DATE", "CURRENT_DATE"), DATE),
    **dict.fromkeys(("ABS", "FLOOR", "CEIL", "ROUND", "TRUNCATE", "MOD", "SIGN"), ARG),
    **dict.fromkeys(("GREATEST", "LEAST", "NULLIF", "COALESCE", "IF", "CASE"), COMMON),
    **dict.fromkeys(("CAST", "TRY_CAST"), ARG),  # typed by their target, see typecheck
    "ELEMENT": ELEMENT,
    **dict.fromkeys(("ARRAY_MAX", "ARRAY_MIN"), ELEMENT),
    "ARRAY_CONTAINS": BOOLEAN,
    "ARRAY_POSITION": INT,
    **dict.fromkeys(_SAME_COLLECTION_FUNCS, ARG),
    **{rule: rule for rule in (MAP_KEYS, MAP_VALUES, MAP_ENTRIES, MAP_FROM_ARRAYS)},
}
"""Scalar functions: Flink's name -> its result type (or :data:`ARG` / :data:`COMMON`)."""

# (STDDEV and VARIANCE are read as STDDEV_SAMP and VAR_SAMP: see SQLGLOT_NAMES)
AGGREGATES = (
    "COUNT", "SUM", "MIN", "MAX", "AVG", "STDDEV_POP", "STDDEV_SAMP", "VAR_POP", "VAR_SAMP",
    "LISTAGG", "ARRAY_AGG", "FIRST_VALUE", "LAST_VALUE", "COLLECT", "PERCENTILE",
)  # fmt: skip
GROUPING = ("GROUPING", "GROUPING_ID")
"""Which grouping set a row of GROUPING SETS, ROLLUP or CUBE belongs to (BIGINT)."""
WINDOWS = ("TUMBLE", "HOP", "CUMULATE", "SESSION", "DESCRIPTOR", "TUMBLE_START", "TUMBLE_END",
           "TUMBLE_ROWTIME", "TUMBLE_PROCTIME", "HOP_START", "HOP_END", "HOP_ROWTIME",
           "SESSION_START", "SESSION_END", "SESSION_ROWTIME")  # fmt: skip

UNSUPPORTED = frozenset({
    # scalar functions of Flink's list that we cannot compute as Flink does yet
    "LOCALTIME",  # no oracle case recorded yet
    "TO_TIMESTAMP_TZ",
    "SUBSTRING_INDEX", "TYPEOF", "LEVENSHTEIN",
    "UNHEX", "SHA224", "SHA384", "SHA512", "DATEDIFF", "DATE_ADD", "DATE_SUB",
    # aggregate functions
    "ARRAY_AGG", "COUNT_IF", "BOOL_AND", "BOOL_OR",
    # window (OVER) functions
    "ROW_NUMBER", "RANK", "DENSE_RANK", "PERCENT_RANK", "CUME_DIST", "NTILE", "LAG", "LEAD",
    "NTH_VALUE",
})  # fmt: skip
"""Flink functions refused by name ("not supported yet") rather than "no function named"."""

SQLGLOT_NAMES = {
    "TRIM": "TRIM", "PAD": "LPAD", "TIME_TO_STR": "DATE_FORMAT", "UNIX_TO_STR": "FROM_UNIXTIME",
    "SHA": "SHA1", "J_S_O_N_OBJECT": "JSON_OBJECT", "JSON_OBJECT": "JSON_OBJECT",
    "LENGTH": "CHAR_LENGTH", "STR_POSITION": "POSITION", "STR_TO_UNIX": "UNIX_TIMESTAMP",
    "DAY_OF_YEAR": "DAYOFYEAR", "DAY_OF_MONTH": "DAYOFMONTH", "DAY_OF_WEEK": "DAYOFWEEK",
    "TRUNC": "TRUNCATE", "STR_TO_TIME": "TO_TIMESTAMP", "TS_OR_DS_TO_DATE": "TO_DATE",
    "TIMESTAMP_ADD": "TIMESTAMPADD", "TIMESTAMP_DIFF": "TIMESTAMPDIFF", "REGEXP_SPLIT": "SPLIT",
    "STARTS_WITH": "STARTSWITH", "ENDS_WITH": "ENDSWITH", "ARRAY_TO_STRING": "ARRAY_JOIN",
    "VARIANCE_POP": "VAR_POP", "VARIANCE": "VAR_SAMP", "GROUP_CONCAT": "LISTAGG",
    "J_S_O_N_OBJECT_AGG": "JSON_OBJECTAGG", "J_S_O_N_ARRAY_AGG": "JSON_ARRAYAGG",
    "LOCALTIMESTAMP": "LOCALTIMESTAMP", "TRY_CAST": "TRY_CAST", "STDDEV": "STDDEV_SAMP",
    "ARRAY_SIZE": "CARDINALITY", "TIME_STR_TO_TIME": "TO_TIMESTAMP", "UNIX_TO_TIME": "TO_TIMESTAMP_LTZ",
    "CURRENT_TIMESTAMP": "CURRENT_TIMESTAMP", "ROW_NUMBER": "ROW_NUMBER", "SHA2": "SHA2",
    "CURRENT_TIME": "CURRENT_TIME", "STRUCT_EXTRACT": "STRUCT_EXTRACT", "REGEXP_LIKE": "REGEXP",
    "MAP": "MAP_FROM_ARRAYS", "APPROX_DISTINCT": "APPROX_COUNT_DISTINCT",
}  # fmt: skip
"""sqlglot's SQL name of a parsed function node -> Flink's name of the function."""

STRUCTURAL = frozenset({"ARRAY", "STRUCT", "ROW", "MAP", "VAR_MAP", "CURRENT_DATE", "STRUCT_EXTRACT"})
"""Constructors and accessors sqlglot parses as functions: allowed, typed elsewhere."""

FUNCTIONS: frozenset[str] = (
    frozenset(SCALARS) | frozenset(AGGREGATES) | frozenset(GROUPING) | frozenset(WINDOWS)
)
