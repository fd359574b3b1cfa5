"""The interactive shell: ``sqlstream`` with no arguments, on prompt-toolkit.

Small modules, each with a narrow interface (pgcli's layout): ``submit`` (does Enter run
the buffer?), ``lexer`` (highlighting), ``completer`` (what fits at the cursor),
``keybindings``, ``commands`` (``\\dt``, ``.mode``, ...), ``live`` (results of running
queries), ``toolbar``, and ``app`` (the loop that ties them together).
"""

from __future__ import annotations

from sqlstream.repl.app import run_repl

__all__ = ["run_repl"]
