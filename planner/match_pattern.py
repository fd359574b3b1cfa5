"""The ``PATTERN`` and ``AFTER MATCH SKIP`` clauses of ``MATCH_RECOGNIZE``, read from their
text into plain data the runtime's pattern engine (``runtime.operators.match_engine``) runs.

Flink supports concatenation of variables with quantifiers (``*``, ``+``, ``?``, ``{n}``,
``{n,}``, ``{n,m}``, ``{,m}``), greedy or reluctant (a trailing ``?``); it refuses
alternation, PERMUTE, groups, anchors, exclusions, the reluctant optional ``A??``, a greedy
quantifier on the last variable, an optional variable right after a greedy one, ``{0,m}``
and a pattern that can match no row. So do we, naming them.

>>> [e.text() for e in parse_pattern("A B+? C{2,3} D")]
['A', 'B+?', 'C{2, 3}', 'D']
>>> parse_skip("AFTER MATCH SKIP TO LAST PRICE_UP")
('to_last', 'PRICE_UP')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from catalog.errors import SqlStreamError
from planner.errors import PlanError, UnsupportedError

Position = tuple[int | None, int | None]  # a line and column in the statement (None: unknown)


@dataclass(frozen=True)
class Element:
    """One variable of the pattern: ``low`` to ``high`` rows (None: no bound), greedy or
    reluctant (the physical plan's ``Element``)."""

    var: str
    low: int
    high: int | None
    greedy: bool = True

    def text(self) -> str:
        """The element as Flink's EXPLAIN spells it: ``A``, ``B+``, ``C{2, 3}?``..."""
        q = {(1, 1): "", (0, None): "*", (1, None): "+", (0, 1): "?"}.get((self.low, self.high))
        if q is None:
            q = f"{{{self.low}, }}" if self.high is None else f"{{{self.low}, {self.high}}}"
            if self.low == self.high:
                q = f"{{{self.low}}}"
        return f"{self.var}{q}{'' if self.greedy or not q else '?'}"


_TOKEN = re.compile(
    r"\s*(?:(?P<var>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)|(?P<q>\*|\+|\?|\{\s*\d*\s*(?:,\s*\d*\s*)?\})(?P<r>\?)?"
    r"|(?P<other>\S))"
)


def parse_pattern(text: str, at: Position = (None, None)) -> tuple[Element, ...]:
    """The elements of ``PATTERN (<text>)``, or an error naming what Flink does not support;
    with ``at``, the line and column where ``text`` starts in the statement, the error
    points at the variable, quantifier or symbol it names."""
    written, text = text, text.strip()
    lead = len(written) - len(written.lstrip())

    def refuse(error: SqlStreamError, offset: int) -> SqlStreamError:
        """``error`` at ``offset`` of ``text``."""
        return _placed(error, written, lead + offset, at)

    elements: list[Element] = []
    starts: list[int] = []  # where each element's variable is in ``text``
    quantified = False  # whether the last element already has its quantifier
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        pos = m.end()
        if m.group("other"):
            raise refuse(_refused_symbol(m.group("other"), text), m.start("other"))
        if m.group("var"):
            name = m.group("var").strip("`")
            if name.upper() == "PERMUTE":
                what = "PERMUTE in the PATTERN of MATCH_RECOGNIZE (Flink does not support it either)"
                raise refuse(UnsupportedError(what), m.start("var"))
            elements.append(Element(name, 1, 1))
            starts.append(m.start("var"))
            quantified = False
            continue
        if not elements or quantified:
            what = f"the quantifier {m.group('q')} in PATTERN ({text}) follows no variable"
            raise refuse(PlanError(what), m.start("q"))
        try:
            low, high = _bounds(m.group("q"), text)
        except PlanError as error:
            raise refuse(error, m.start("q")) from None
        greedy = m.group("r") is None
        last = elements.pop()
        elements.append(Element(last.var, low, high, greedy))
        quantified = True
    if not elements:
        raise refuse(PlanError("PATTERN () of MATCH_RECOGNIZE names no variable"), 0)
    for e, start in zip(elements, starts, strict=True):
        if (e.low, e.high) == (0, 1) and not e.greedy:
            what = f"the reluctant optional quantifier {e.text()} in PATTERN (Flink does not "
            what += "support it either)"
            raise refuse(UnsupportedError(what), start)
    for e, start in zip(elements, starts, strict=True):
        if e.low == 0 and e.high not in (1, None):
            raise refuse(
                UnsupportedError(
                    f"the quantifier {e.text()} in PATTERN: from 0 to {e.high} rows (Flink does not "
                    "support it either: its CEP times() needs at least 1)",
                    hint=f"{e.var}{{1,{e.high}}} with the pattern also written without {e.var}",
                ),
                start,
            )
    for (before, e), start in zip(pairwise(elements), starts[1:], strict=True):
        if e.low == 0 and before.greedy and before.low != before.high and (before.low, before.high) != (0, 1):
            raise refuse(
                UnsupportedError(
                    f"an optional variable ({e.text()}) right after a greedy quantifier ({before.text()}) in "
                    "PATTERN (Flink does not support it either: optional pattern cannot be preceded by "
                    "greedy pattern)",
                    hint=f"make {before.text()} reluctant ({before.text()}?)",
                ),
                start,
            )
    if all(e.low == 0 for e in elements):
        raise refuse(
            UnsupportedError(
                f"a PATTERN that can match no row ({text}) (Flink does not support it either)",
                hint="make one variable mandatory (no *, ? or {0,..} on it)",
            ),
            0,
        )
    last = elements[-1]
    if last.greedy and last.low != last.high:
        raise refuse(
            UnsupportedError(
                f"a greedy quantifier on the last variable of a PATTERN ({last.text()}) (Flink does not "
                "support it either)",
                hint=f"make it reluctant ({last.text()}?) or end the pattern with a variable whose "
                f"condition is the negation of {last.var}'s",
            ),
            starts[-1],
        )
    return tuple(elements)


def _placed(error: SqlStreamError, text: str, offset: int, at: Position) -> SqlStreamError:
    """``error`` at ``offset`` of ``text``, which starts at ``at`` (line, column; None:
    unknown) in the statement."""
    line, col = at
    if line is None or col is None:
        return error
    before = text[:offset]
    if "\n" in before:
        return error.with_position(line + before.count("\n"), offset - before.rindex("\n"))
    return error.with_position(line, col + offset)


def _bounds(q: str, text: str) -> tuple[int, int | None]:
    if q == "*":
        return 0, None
    if q == "+":
        return 1, None
    if q == "?":
        return 0, 1
    inner = q[1:-1].replace(" ", "")
    if "," not in inner:
        n = int(inner)
        if n <= 0:
            raise PlanError(f"the quantifier {q} in PATTERN ({text}) must be {{n}} with n > 0")
        return n, n
    lo_s, hi_s = inner.split(",", 1)
    low = int(lo_s) if lo_s else 0
    high = int(hi_s) if hi_s else None
    if high is not None and (high <= 0 or low > high):
        raise PlanError(f"the quantifier {q} in PATTERN ({text}) needs 0 <= n <= m and m > 0")
    return low, high


def _refused_symbol(symbol: str, text: str) -> SqlStreamError:
    what = {
        "|": "alternation (|)",
        "(": "a group of variables",
        "^": "the anchor ^",
        "$": "the anchor $",
    }.get(symbol)
    if symbol == "{":
        what = "the exclusion {- -}"
    if what is None:
        return PlanError(f"unexpected '{symbol}' in PATTERN ({text})")
    return UnsupportedError(f"{what} in the PATTERN of MATCH_RECOGNIZE (Flink does not support it either)")


def parse_skip(text: str | None) -> tuple[str, str | None]:
    """``AFTER MATCH SKIP ...`` as (strategy, variable): past_last, to_next (the default,
    as Calcite's and so Flink's, whatever the SQL standard says), to_first or to_last
    (with their variable)."""
    if not text:
        return "to_next", None
    words = text.split()[3:]
    upper = [w.upper() for w in words]
    if upper == ["PAST", "LAST", "ROW"]:
        return "past_last", None
    if upper == ["TO", "NEXT", "ROW"]:
        return "to_next", None
    if len(words) == 3 and upper[:2] in (["TO", "FIRST"], ["TO", "LAST"]):
        return f"to_{upper[1].lower()}", words[2].strip("`")
    if len(words) == 2 and upper[0] == "TO":  # SKIP TO var: the standard's SKIP TO LAST var
        return "to_last", words[1].strip("`")
    raise PlanError(
        f"unknown {text}", hint="AFTER MATCH SKIP PAST LAST ROW | TO NEXT ROW | TO FIRST v | TO LAST v"
    )


def skip_text(strategy: str, var: str | None) -> str:
    """The strategy as Flink's EXPLAIN prints it."""
    return {
        "past_last": "SKIP PAST LAST ROW",
        "to_next": "SKIP TO NEXT ROW",
        "to_first": f"SKIP TO FIRST {var}",
        "to_last": f"SKIP TO LAST {var}",
    }[strategy]
