"""The ``sqlstream`` command's entry point (and ``python -m sqlstream``'s).

Loading the engine (sqlglot's tables, pyarrow, the plan dataclasses) creates ~50,000
objects that live until the process exits, and next to no garbage. With the collector on,
Python walks that growing heap over and over while it loads, and once more at exit: ~80 ms
of CPU of a one-row ``sqlstream run`` that takes 0.4 s. So the command imports the engine
with the collector off and then freezes what it loaded (``gc.freeze``: kept out of every
later collection; reference counting still frees it). Only the command does this; a
program that imports ``sqlstream`` keeps its collector as it had it.
"""

from __future__ import annotations

import gc


def main() -> int:
    collecting = gc.isenabled()
    gc.disable()
    try:
        from sqlstream.cli import main as cli_main
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    return cli_main()
