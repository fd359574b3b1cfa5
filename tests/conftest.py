"""Hypothesis profiles: ``slow`` runs ten times the examples of the property tests.

    HYPOTHESIS_PROFILE=slow .venv/bin/pytest tests/unit/runtime/test_sql_oracle.py
    .venv/bin/pytest --hypothesis-profile=slow tests/unit/runtime   (the same)
"""

from __future__ import annotations

import os

from hypothesis import settings

# No per-example deadline: a deadline is a timed assertion, and on a loaded machine (CI, or
# helpers sharing two cores) a 200 ms one failed examples that were only slow.
settings.register_profile("sqlstream", deadline=None)
settings.register_profile("slow", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "sqlstream"))


def examples(n: int) -> int:
    """``n`` examples in the default profile, ten times more under ``slow`` (it scales with
    the profile's ``max_examples``, whose default is 100)."""
    return max(n, n * settings().max_examples // 100)
