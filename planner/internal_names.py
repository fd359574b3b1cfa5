"""Column names the runtime's DuckDB statements use for their own columns, tables and
aliases (``__seq``, ``__id``, ``__src``, ...). A user's column of such a name, in the input
of an operator that runs such statements, would be shadowed by (or shadow) the internal
one: DuckDB resolves a duplicate name to its first column and answers silently wrong. The
planner refuses such a column by name (``planner.refusals``) rather than run it.

``tests/unit/runtime/test_internal_names.py`` reads every ``__name`` in the runtime's
source and fails until it is listed here, so a new internal name cannot slip by. Names
Debezium gives its records (``__op``, ``__deleted``, ``__table``, ``__source_ts_ms``) are
not reserved, and must stay so. ``__jk`` is the planner's own (a join key cast to the
other side's type, named ``__jk0``...).
"""

from __future__ import annotations

import re

NAMES = frozenset(
    """
    __a __acc __add __all __assoc __b __before __c __calc_position __changed __cid __ck __cnt
    __compact __d __dc __dd __delta __e __emit __empty __expire __f __fired __flags __fresh __g __ge __gi
    __gone __h __had __i __id __in __ix __jk __joined __k __keep __keys __l __lab __late __live
    __lookup_key __lookup_row __m __matched __n __new __new_kind __nfa __nid __ns __o __o_copy
    __o_phase __o_rid __o_seq __od __oid __old __old_kind __or __ov __p __pos __pyacc __pyacc_rows __r
    __ready __rid __rk __rn __row_kind __rows __s __same __se __seen __seq __shared __st
    __sqlstream_ordinal __sqlstream_partition __src __states __t __timed __udaf __v __vd __vm __w __we
    __win __ws __x __xc
    """.split()  # noqa: SIM905 (a list of 100 names reads better as words)
)
"""The names, each also with a number after it (``__k0``, ``__a_s1``: generated per column)."""

PREFIXES = ("__a_", "__ck_")
"""Prefixes of names generated from a column's or a snapshot's name (``__a_<name>``)."""

_RESERVED = re.compile(
    "(?:"
    + "|".join(sorted(map(re.escape, NAMES), key=len, reverse=True))
    + r")\d*"
    + "|(?:"
    + "|".join(map(re.escape, PREFIXES))
    + ").*",
    re.DOTALL,
)


def reserved(name: str) -> bool:
    """Whether a column of this name could meet an internal one (DuckDB's names are
    case-insensitive)."""
    return _RESERVED.fullmatch(name.lower()) is not None
