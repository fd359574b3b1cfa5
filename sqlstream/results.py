"""What a statement gives back: a message, a small table, a job, or a query's rows.

Plain data the CLI and REPL render; they never look inside the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlstream.jobs import JobHandle, QueryHandle


class ResultKind(StrEnum):
    OK = "ok"  # DDL, SET, ...: a message
    TABLE = "table"  # SHOW, DESCRIBE, SET listing: columns and rows
    TEXT = "text"  # EXPLAIN, SHOW CREATE: a block of text
    JOB = "job"  # INSERT / statement set: a running job
    QUERY = "query"  # SELECT: rows, live


@dataclass
class Result:
    kind: ResultKind
    message: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    job: JobHandle | None = None
    query: QueryHandle | None = None
    warnings: list[str] = field(default_factory=list)
    full_width: tuple[str, ...] = ()  # columns a renderer must not cut (addresses)

    @classmethod
    def ok(cls, message: str, warnings: list[str] | None = None) -> Result:
        return cls(ResultKind.OK, message=message, warnings=warnings or [])

    @classmethod
    def table(cls, columns: list[str], rows: list[tuple[Any, ...]]) -> Result:
        return cls(ResultKind.TABLE, columns=columns, rows=rows)

    @classmethod
    def text(cls, text: str) -> Result:
        return cls(ResultKind.TEXT, message=text)
