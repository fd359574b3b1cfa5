"""Our own sqlglot nodes: the Flink constructs sqlglot's stock dialects lack.

Each node declares its children in ``arg_types`` and gets its constructor, ``sql()``,
``copy()`` and tree walking from sqlglot; ``planner.dialect`` parses and prints them.

>>> from planner.parse import parse
>>> q = parse("SELECT * FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))")[0].query
>>> tvf = q.find(WindowTVF)
>>> tvf.text("kind"), tvf.this.name, tvf.args["time_column"].name, tvf.args["size"].sql()
('TUMBLE', 'Bid', 'bidtime', "INTERVAL '10' MINUTES")
"""

from __future__ import annotations

from sqlglot import exp

WINDOW_KINDS = ("TUMBLE", "HOP", "CUMULATE", "SESSION")


class WindowTVF(exp.TableFromRows):
    """A windowing table-valued function in FROM: ``TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), ...))``.

    - ``this``: the data, an ``exp.Table`` (``TABLE t``) or an ``exp.Subquery``
      (``TABLE (SELECT ...)``);
    - ``kind``: ``"TUMBLE"`` | ``"HOP"`` | ``"CUMULATE"`` | ``"SESSION"``;
    - ``time_column``: the ``exp.Identifier`` named by ``DESCRIPTOR(...)``;
    - ``size`` (TUMBLE, HOP, CUMULATE), ``slide`` (HOP), ``step`` (CUMULATE), ``gap``
      (SESSION), ``offset`` (optional): the interval expressions as written;
    - ``partition_by``: SESSION's ``PARTITION BY`` columns (``exp.Column`` list);
    - ``alias`` (an ``exp.TableAlias``) and the rest of ``TableFromRows``'s arguments.

    It subclasses ``exp.TableFromRows``, sqlglot's node for ``TABLE(<function>)``, so
    sqlglot's own parser moves the alias of ``TABLE(...) AS w`` onto it.
    """

    arg_types = {
        **exp.TableFromRows.arg_types,
        "kind": True,
        "time_column": True,
        "size": False,
        "slide": False,
        "step": False,
        "gap": False,
        "offset": False,
        "partition_by": False,
    }

    @property
    def kind(self) -> str:
        return self.text("kind").upper()


class Descriptor(exp.Expression):
    """``DESCRIPTOR(col, ...)``: column names passed to a table function."""

    arg_types = {"expressions": True}


class MetadataColumnConstraint(exp.Expression, exp.ColumnConstraintKind):
    """``METADATA [FROM 'key'] [VIRTUAL]`` of a metadata column; ``this`` is the key literal."""

    arg_types = {"this": False, "virtual": False}


class AlterTableOptions(exp.Expression):
    """``ALTER TABLE t SET ('k' = 'v', ...)``: ``expressions`` are ``exp.Property`` nodes."""

    arg_types = {"expressions": True}


class AlterTableResetOptions(exp.Expression):
    """``ALTER TABLE t RESET ('k', ...)``: ``expressions`` are string literals."""

    arg_types = {"expressions": True}


class AlterTableSchema(exp.Expression):
    """``ALTER TABLE t ADD | MODIFY <item>`` or ``... (<item>, ...)``: ``kind`` is ``ADD`` or
    ``MODIFY``; each item an ``exp.ColumnDef`` (its ``position``: sqlglot's ``FIRST`` or
    ``AFTER c``), an ``exp.PrimaryKey`` or an ``exp.WatermarkColumnConstraint``;
    ``wrapped`` when the items are in parentheses."""

    arg_types = {"kind": True, "expressions": True, "wrapped": False}


class AlterTableDrop(exp.Expression):
    """``ALTER TABLE t DROP c | (c, ...) | PRIMARY KEY | WATERMARK | CONSTRAINT name``:
    ``kind`` is ``COLUMNS``, ``PRIMARY KEY``, ``WATERMARK`` or ``CONSTRAINT``;
    ``expressions`` the identifiers of the columns (or of the constraint)."""

    arg_types = {"kind": True, "expressions": False, "wrapped": False}


class DateFormat(exp.Expression, exp.Func):
    """``DATE_FORMAT(ts, 'pattern')`` with the pattern kept as Java wrote it
    (:mod:`planner.dateformat` reads it; sqlglot's own node would translate it to strftime
    letter by letter, losing quoted text and the week-based fields)."""

    arg_types = {"this": True, "format": True}
    _sql_names = ["DATE_FORMAT"]


class Collect(exp.Expression, exp.AggFunc):
    """``COLLECT(x)``: the multiset of a group's non-NULL values (Flink's MULTISET<T>,
    carried as a list with repetitions)."""

    arg_types = {"this": True}
    _sql_names = ["COLLECT"]


class Percentile(exp.Expression, exp.AggFunc):
    """``PERCENTILE(value, percentage [, frequency])``: Flink's continuous percentile (a
    DOUBLE, or an ARRAY<DOUBLE> for an array of percentages). sqlglot's own Quantile has no
    place for the frequency, which it would drop."""

    arg_types = {"this": True, "percentage": True, "frequency": False}
    _sql_names = ["PERCENTILE"]


class JsonValue(exp.Expression, exp.Func):
    """``JSON_VALUE(json, path [RETURNING type] [behaviour ON EMPTY] [behaviour ON ERROR])``;
    a behaviour is ``NULL``, ``ERROR`` or ``DEFAULT`` (with ``empty_default`` /
    ``error_default``), kept as an ``exp.Var``."""

    arg_types = {
        "this": True, "path": True, "returning": False, "empty": False, "empty_default": False,
        "error": False, "error_default": False,
    }  # fmt: skip
    _sql_names = ["JSON_VALUE"]


class JsonQuery(exp.Expression, exp.Func):
    """``JSON_QUERY(json, path [RETURNING type] [wrapper] [behaviour ON EMPTY] [behaviour ON
    ERROR])``: the type is STRING (the default) or ARRAY<STRING>; the wrapper is
    ``WITHOUT``, ``CONDITIONAL`` or ``UNCONDITIONAL`` (array wrapper); a behaviour ``NULL``,
    ``ERROR``, ``EMPTY ARRAY`` or ``EMPTY OBJECT``."""

    arg_types = {
        "this": True,
        "path": True,
        "returning": False,
        "wrapper": False,
        "empty": False,
        "error": False,
    }
    _sql_names = ["JSON_QUERY"]


class JsonExists(exp.Expression, exp.Func):
    """``JSON_EXISTS(json, path [TRUE | FALSE | UNKNOWN | ERROR ON ERROR])``."""

    arg_types = {"this": True, "path": True, "error": False}
    _sql_names = ["JSON_EXISTS"]


class JsonArray(exp.Expression, exp.Func):
    """``JSON_ARRAY(value, ... [NULL | ABSENT ON NULL])``; ``null`` is ``NULL`` or ``ABSENT``."""

    arg_types = {"expressions": False, "null": False}
    _sql_names = ["JSON_ARRAY"]


class JsonObjectText(exp.Expression, exp.Func):
    """JSON_OBJECTAGG's result from the multiset of its (key, JSON text of the value) rows
    (``this``, a COLLECT of ``ROW(key, JSON_STRING(value))``): written by the binder, not
    by users; see :mod:`planner.bind.json_aggregates`."""

    arg_types = {"this": True}
    _sql_names = ["JSON_OBJECT_TEXT"]


class MatchRecognize(exp.MatchRecognize):
    """``MATCH_RECOGNIZE (...)`` with Flink's ``WITHIN <interval>`` after the pattern.

    sqlglot's node keeps ``partition_by``, ``order``, ``measures``, ``rows``, ``after``,
    ``pattern`` (the pattern's text, an ``exp.Var``) and ``define``; ``within`` is the
    interval expression as written (None without it). ``planner.bind.match`` reads them.
    """

    arg_types = {**exp.MatchRecognize.arg_types, "within": False}
