"""The functions a query may call: Flink's names, for SHOW FUNCTIONS and completion."""

from __future__ import annotations

from planner import typecheck

AGGREGATES = ("COUNT", "SUM", "MIN", "MAX", "AVG")
WINDOWS = ("TUMBLE", "HOP", "CUMULATE", "SESSION", "DESCRIPTOR", "TUMBLE_START", "TUMBLE_END",
           "TUMBLE_ROWTIME", "TUMBLE_PROCTIME", "HOP_START", "HOP_END", "HOP_ROWTIME",
           "SESSION_START", "SESSION_END", "SESSION_ROWTIME")  # fmt: skip
SCALARS = ("CAST", "TRY_CAST", "CASE", "IF", "COALESCE", "NULLIF", "EXTRACT", "FLOOR", "CEIL",
           "ABS", "MOD", "ROUND", "UPPER", "LOWER", "TRIM", "CONCAT", "CONCAT_WS", "SUBSTRING",
           "REPLACE", "CHAR_LENGTH", "POSITION", "LPAD", "RPAD", "REGEXP_EXTRACT", "REGEXP_REPLACE",
           "SPLIT_INDEX", "DATE_FORMAT", "TO_TIMESTAMP", "TO_TIMESTAMP_LTZ", "TO_DATE",
           "FROM_UNIXTIME", "UNIX_TIMESTAMP", "TIMESTAMPADD", "TIMESTAMPDIFF", "PROCTIME",
           "CURRENT_TIMESTAMP", "LOCALTIMESTAMP", "CURRENT_DATE", "NOW", "HASH_CODE", "MD5",
           "SQRT", "POWER", "LN", "LOG10", "EXP", "GREATEST", "LEAST", "INITCAP", "REVERSE")  # fmt: skip

FUNCTIONS: frozenset[str] = frozenset(AGGREGATES + WINDOWS + SCALARS) | {
    f for f in (
        typecheck.STRING_FUNCS | typecheck.DOUBLE_FUNCS | typecheck.BOOL_FUNCS
    ) if "_" not in f or f in SCALARS
}  # fmt: skip
