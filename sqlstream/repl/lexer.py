"""Syntax highlighting: Pygments' SQL lexer plus the words Flink SQL adds.

>>> from pygments.token import Keyword
>>> (Keyword, "WATERMARK") in list(FlinkSqlLexer().get_tokens("WATERMARK FOR ts AS ts"))
True
"""

from __future__ import annotations

from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexer import inherit, words
from pygments.lexers.sql import SqlLexer
from pygments.token import Keyword, Name

# Words of Flink SQL that Pygments' SQL lexer does not know as keywords.
FLINK_KEYWORDS = (
    "WATERMARK", "DESCRIPTOR", "METADATA", "VIRTUAL", "ENFORCED", "PROCTIME", "STATEMENT",
    "EXECUTE", "MATCH_RECOGNIZE", "MEASURES", "PATTERN", "DEFINE", "WITHIN", "LATERAL",
    "UNNEST", "SYSTEM_TIME", "OVERWRITE", "PARTITIONED", "TEMPORARY", "IF", "SHOW", "JOBS",
    "JOB", "STOP", "SAVEPOINT", "DRAIN", "DESCRIBE", "EXPLAIN", "CHANGELOG_MODE",
    "JSON_EXECUTION_PLAN", "ESTIMATED_COST", "PLAN_ADVICE", "RESET", "VIEWS", "TABLES",
    "FUNCTIONS", "CATALOGS", "DATABASES", "COLUMNS", "STRING", "BYTES", "TIMESTAMP_LTZ",
    "MULTISET", "MAP", "ARRAY", "ROW", "TINYINT", "SMALLINT", "BIGINT", "DOUBLE",
)  # fmt: skip
# Window table functions and time attribute helpers: shown as built-in names.
FLINK_BUILTINS = (
    "TUMBLE", "HOP", "CUMULATE", "SESSION", "TUMBLE_START", "TUMBLE_END", "TUMBLE_ROWTIME",
    "TUMBLE_PROCTIME", "HOP_START", "HOP_END", "HOP_ROWTIME", "SESSION_START", "SESSION_END",
    "SESSION_ROWTIME", "TO_TIMESTAMP_LTZ", "CURRENT_WATERMARK", "SOURCE_WATERMARK",
)  # fmt: skip


class FlinkSqlLexer(SqlLexer):
    """SQL with Flink's keywords (WATERMARK, DESCRIPTOR, METADATA, ...) and window functions."""

    name = "Flink SQL"
    aliases = ["flinksql"]
    tokens = {
        "root": [
            (words(FLINK_BUILTINS, suffix=r"\b"), Name.Builtin),
            (words(FLINK_KEYWORDS, suffix=r"\b"), Keyword),
            inherit,
        ]
    }


def lexer() -> PygmentsLexer:
    """The prompt's lexer."""
    return PygmentsLexer(FlinkSqlLexer)
