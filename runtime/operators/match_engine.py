"""The pattern engine of ``MATCH_RECOGNIZE``: Flink CEP's NFA semantics over one
partition's rows, in order, without Flink's shared buffer.

A *partial match* is at element ``elem`` of the pattern having taken ``count`` rows for it.
On each row, every partial match (and a fresh one starting at the row) moves:

- *take*: the row joins the element's variable if the element has room (``count < high``)
  and the variable's condition holds; the element is done once it reaches ``high``;
- *proceed*: to the next element, evaluated on the same row, once ``count >= low``; a
  greedy element proceeds only when the row does not satisfy its condition (Flink's
  ``NOT take`` proceed condition; a greedy ``{n,m}`` keeps that guard after its m-th
  row), a reluctant one (and ``?``, which Flink's translation leaves not greedy) both
  proceeds and takes, each a partial match of its own.

Reaching the end of the pattern completes a match (by a take: with the row; by a proceed:
without it). Completed matches are emitted earliest start first, and only once no partial
match that started before theirs is still running (Flink's ``isEarlier`` wait); each
emitted match prunes by the AFTER MATCH SKIP strategy the partial and completed matches
that started before where the next match may start. With WITHIN, a partial match whose
first row is ``within`` or more before the time being processed is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.errors import SqlStreamError
from planner.physical import PatternElement
from runtime.operators.match_expr import Step

Condition = Callable[[Sequence[Step]], Any]


def _greedy(e: PatternElement) -> bool:
    """Whether the engine runs ``e`` greedily: as Flink's SQL translation marks it, which
    leaves ``?`` and ``{n}`` not greedy (``?`` tries both ways, each a partial match)."""
    return e.greedy and e.high != e.low and (e.low, e.high) != (0, 1)


class MatchError(SqlStreamError):
    """A match the AFTER MATCH SKIP strategy cannot continue from (as Flink, a job failure)."""


@dataclass
class Partial:
    start: int  # position of the first row
    start_ts: int
    elem: int
    count: int
    steps: tuple[Step, ...]
    order: int = 0  # creation order, among matches with the same start


@dataclass
class PartitionState:
    """What a partition keeps between firings (pickled into the operator's state)."""

    next_pos: int = 0
    created: int = 0
    partials: list[Partial] = field(default_factory=list)
    completed: list[Partial] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.partials and not self.completed


class Engine:
    """Runs ``pattern`` with ``conditions`` (variable -> condition over the steps with the
    candidate row last; a variable without one is TRUE)."""

    def __init__(
        self,
        pattern: Sequence[PatternElement],
        conditions: dict[str, Condition],
        skip: str,
        skip_var: str | None = None,
        within_ms: int | None = None,
    ) -> None:
        self.pattern = tuple(pattern)
        self.conditions = conditions
        self.skip, self.skip_var, self.within = skip, skip_var, within_ms

    # ---- driving ----------------------------------------------------------------------
    def advance(self, state: PartitionState, ts: int) -> list[tuple[Step, ...]]:
        """Time reached ``ts`` (before its rows, and at each watermark): drop the partial
        matches WITHIN rules out, then emit what no longer waits for them."""
        if self.within is not None:
            state.partials = [p for p in state.partials if ts - p.start_ts < self.within]
        return self._release(state)

    def process(self, state: PartitionState, row: tuple[Any, ...], ts: int) -> list[tuple[Step, ...]]:
        """Feed one row (time ``ts``); the matches it lets out, in order."""
        pos = state.next_pos
        state.next_pos += 1
        partials: list[Partial] = []
        completed: list[Partial] = []
        fresh = Partial(pos, ts, 0, 0, ())
        for p in [*state.partials, fresh]:
            self._walk(state, p, p.elem, p.count, p.steps, pos, row, partials, completed)
        state.partials = partials
        state.completed.extend(completed)
        return self._release(state)

    def _walk(
        self,
        state: PartitionState,
        p: Partial,
        elem: int,
        count: int,
        steps: tuple[Step, ...],
        pos: int,
        row: tuple[Any, ...],
        partials: list[Partial],
        completed: list[Partial],
    ) -> None:
        if elem == len(self.pattern):  # proceeded past the end: complete without this row
            completed.append(self._new(state, p, steps, elem, 0))
            return
        e = self.pattern[elem]
        greedy = _greedy(e)
        candidate = (*steps, (pos, e.var, row))
        cond = self.conditions.get(e.var)
        satisfies = cond is None or bool(cond(candidate))
        took = satisfies and (e.high is None or count < e.high)
        proceeds = count >= e.low and not (greedy and satisfies)
        if proceeds and not greedy:  # reluctant: the shorter match first
            self._walk(state, p, elem + 1, 0, steps, pos, row, partials, completed)
        if took:
            # a greedy {n,m} stays after its m-th row, to proceed only past a row it
            # would not have taken (Flink's greedy times(): a longer run matches nothing)
            done = e.high is not None and count + 1 == e.high and not greedy
            nxt, n = (elem + 1, 0) if done else (elem, count + 1)
            if nxt == len(self.pattern):
                completed.append(self._new(state, p, candidate, nxt, 0))
            else:
                partials.append(self._new(state, p, candidate, nxt, n))
        if proceeds and greedy:
            self._walk(state, p, elem + 1, 0, steps, pos, row, partials, completed)

    @staticmethod
    def _new(state: PartitionState, p: Partial, steps: tuple[Step, ...], elem: int, count: int) -> Partial:
        state.created += 1
        start, start_ts = (steps[0][0], p.start_ts) if steps else (p.start, p.start_ts)
        return Partial(start, start_ts, elem, count, steps, state.created)

    # ---- emitting ---------------------------------------------------------------------
    def _release(self, state: PartitionState) -> list[tuple[Step, ...]]:
        out: list[tuple[Step, ...]] = []
        while state.completed:
            first = min(state.completed, key=lambda m: (m.start, m.order))
            if state.partials and min(p.start for p in state.partials) < first.start:
                break  # a partial match that started earlier may still complete first
            state.completed.remove(first)
            out.append(first.steps)
            self._prune(state, first)
        return out

    def _prune(self, state: PartitionState, match: Partial) -> None:
        """Drop what the AFTER MATCH SKIP strategy skips after ``match``."""
        steps = match.steps
        if self.skip == "past_last":
            bound, inclusive = steps[-1][0], True
        elif self.skip == "to_next":
            bound, inclusive = steps[0][0], True
        else:
            rows = [s[0] for s in steps if s[1] == self.skip_var]
            if not rows:
                raise MatchError(
                    f"AFTER MATCH SKIP TO {self.skip[3:].upper()} {self.skip_var}: no row of the match "
                    f"is mapped to {self.skip_var}"
                )
            bound, inclusive = (rows[0] if self.skip == "to_first" else rows[-1]), False
            if bound == steps[0][0]:  # the next match would start where this one did, forever
                raise MatchError(
                    f"AFTER MATCH SKIP TO {self.skip[3:].upper()} {self.skip_var}: could not skip to the "
                    "first row of a match (Flink fails the same way)"
                )

        def keep(m: Partial) -> bool:
            return m.start > bound if inclusive else m.start >= bound

        state.partials = [m for m in state.partials if keep(m)]
        state.completed = [m for m in state.completed if keep(m)]
