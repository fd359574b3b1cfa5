"""The examples in the shell modules' docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["submit", "lexer", "completer", "toolbar", "live", "app"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"sqlstream.repl.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
