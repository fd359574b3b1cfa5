"""The decimal context every DECIMAL step in Python runs in.

Python's default context keeps 28 digits: its operators, unary - and quantize round there
or raise (Java's BigDecimal never does), so every DECIMAL step on values of our 38 digits
passes this one. A module of its own so that what needs only the context (the file formats'
readers and writers) does not load DuckDB with ``runtime.wide_decimal``.
"""

from __future__ import annotations

import decimal

# Every digit of two 38-digit operands' product.
EXACT = decimal.Context(prec=200)
