"""Query hints of a SELECT: ``/*+ STATE_TTL('o' = '1d', 'c' = '12h') */``, Flink's per-input
idle state retention of the regular joins in that query block.

A key names an input of a join of this SELECT's FROM clause, or the input of its
unwindowed GROUP BY (its one FROM item), by its alias, or by its table or view name when
it has no alias (Flink's rule: once aliased, the alias is the name). In a
chain of joins the first join's inputs and every later join's right input have names; a
later join's left input is a join and takes ``table.exec.state.ttl``. Within one hint the
last value of a key wins, across hints the first (Flink's order). A key that names no input
is an error, as in Flink. Other hints (Flink's join strategy hints) are left alone.

>>> import sqlglot
>>> from planner.dialect import Flink
>>> q = sqlglot.parse_one("SELECT /*+ STATE_TTL('o' = '1d', 'o' = '2h') */ 1 FROM o", read=Flink)
>>> StateTtlHint.of(q).ttl_ms
{'o': 7200000}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from catalog.errors import OptionError
from catalog.options import parse_duration_ms
from planner.bind.scope import _err
from planner.errors import PlanError

STATE_TTL = "STATE_TTL"


@dataclass
class StateTtlHint:
    """The STATE_TTL keys of one SELECT (lower-cased) and which of them a join used."""

    ttl_ms: dict[str, int] = field(default_factory=dict)
    node: exp.Expr | None = None  # the hint, for the position of an error
    used: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, select: exp.Expr) -> StateTtlHint:
        hint = select.args.get("hint")
        out = cls(node=hint)
        if not isinstance(hint, exp.Hint):
            return out
        for item in hint.expressions:
            if not isinstance(item, exp.Func) or item.name.upper() != STATE_TTL:
                continue  # other hints (Flink's join strategy hints) change no result here
            args = item.expressions
            if not args:
                raise _err(
                    PlanError("Invalid STATE_TTL hint, expecting at least one key-value options specified."),
                    hint,
                )
            mine: dict[str, int] = {}
            for arg in args:
                if not isinstance(arg, exp.EQ) or not isinstance(arg.this, exp.Literal | exp.Column):
                    raise _err(PlanError("a STATE_TTL option is written 'input' = 'duration'"), hint)
                key = arg.this.name
                try:
                    mine[key.lower()] = parse_duration_ms(arg.expression.name, f"STATE_TTL {key}")
                except OptionError as e:
                    raise _err(e, hint) from None
            for key, ms in mine.items():  # the last value within a hint, the first across hints
                out.ttl_ms.setdefault(key, ms)
        return out

    def take(self, name: str | None) -> int | None:
        """The hinted TTL of the join input called ``name`` (None: not hinted)."""
        if name is None or name.lower() not in self.ttl_ms:
            return None
        self.used.add(name.lower())
        return self.ttl_ms[name.lower()]

    def check_all_used(self) -> None:
        """Flink's error for keys that name no input of the query block's joins."""
        unused = [k for k in self.ttl_ms if k not in self.used]
        if unused and self.node is not None:
            raise _err(
                PlanError(
                    "The options of following hints cannot match the name of input tables or views: \n"
                    f"`{', '.join(unused)}` in `{STATE_TTL}`",
                    hint="name an input of a regular join or GROUP BY of this SELECT by its alias, "
                    "or its table or view name when it has none",
                ),
                self.node,
            )


_OPTIONS_HINT = re.compile(r"^\s*OPTIONS\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_OPTION = re.compile(r"\s*'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'\s*(,|$)")


def table_options(table: exp.Expr) -> dict[str, str]:
    """Flink's dynamic table options, ``FROM t /*+ OPTIONS('k' = 'v') */`` (and after INSERT
    INTO t): options of this statement's use of the table, over its own. sqlglot keeps a
    hint after a table name as the table's comment, without its ``+``."""
    options: dict[str, str] = {}
    for comment in table.comments or ():
        match = _OPTIONS_HINT.match(comment)
        if match is None:
            continue
        body, at = match.group(1), 0
        while at < len(body.rstrip()):
            pair = _OPTION.match(body, at)
            if pair is None:
                raise _err(
                    PlanError(
                        f"the OPTIONS hint of table '{table.name}' is not a list of 'key' = 'value'",
                        hint="write /*+ OPTIONS('key' = 'value', ...) */ after the table's name",
                    ),
                    table,
                )
            options[pair.group(1).replace("''", "'")] = pair.group(2).replace("''", "'")
            at = pair.end()
    return options


def aggregate_input(select: exp.Expr) -> str | None:
    """The name of a SELECT's GROUP BY input for its STATE_TTL hint: its one FROM item
    (with joins, the aggregate reads a join, which has no name)."""
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None or select.args.get("joins"):
        return None
    return input_name(from_.this)


def input_name(relation: exp.Expr) -> str | None:
    """The name a hint gives a FROM item: its alias, else its table or view name."""
    if isinstance(relation, exp.Table) and isinstance(relation.this, exp.Identifier):
        return relation.alias_or_name
    alias = relation.args.get("alias")
    return alias.name if isinstance(alias, exp.TableAlias) and alias.name else None
