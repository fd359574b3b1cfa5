"""Compiled dataclass methods, kept between runs as bytecode is.

Python 3.11 writes the methods of a dataclass (``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, and a frozen one's ``__setattr__`` and ``__delattr__``) as text and compiles
each when the class is defined: ~0.4 ms a frozen class, ~65 ms for the engine's ~175
classes, a quarter of what loading the engine costs a one-row ``sqlstream run``. The text
depends only on the class's field names and options, never on a value (the values are
arguments of the function the text defines), so what it compiles to is the same in every
process. The command (``entry.load``) keeps that code in a file beside this module's
bytecode, keyed by the text, and compiles only the texts the file does not hold (a class
new or changed since). ``scripts/bootstrap`` writes the file for every module of the
engine (``python -m sqlstream.dataclass_code``), as it compiles their bytecode; a run adds
what it had to compile, unless Python writes no bytecode (``PYTHONDONTWRITEBYTECODE``).

Only ``dataclasses``' own calls of ``exec`` go through the cache (its module global, which
it calls for each method), and only in the command's process: a program that imports
sqlstream is left as it is.
"""

from __future__ import annotations

import dataclasses
import importlib
import marshal
import os
import pkgutil
import sys
from importlib.util import MAGIC_NUMBER
from pathlib import Path
from types import CodeType
from typing import Any

#: The packages of the engine, whose modules ``build`` imports.
PACKAGES = ("sqlstream", "runtime", "planner", "catalog")


def cache_path() -> Path:
    return Path(__file__).parent / "__pycache__" / f"dataclass-methods.{sys.implementation.cache_tag}.marshal"


class MethodCode:
    """The code of dataclass methods by their text: ``exec`` stands in for the builtin in
    ``dataclasses``, and compiles a text only the first time it sees it."""

    def __init__(self, known: dict[str, CodeType]) -> None:
        self.known = known
        self.compiled = 0  # texts compiled by this process: the file lacks them

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /) -> None:
        if isinstance(source, str):
            code = self.known.get(source)
            if code is None:
                code = self.known[source] = compile(source, "<string>", "exec")
                self.compiled += 1
            source = code
        exec(source, globals, locals)


def install(known: dict[str, CodeType] | None = None) -> MethodCode | None:
    """Route the compilation of dataclass methods through ``known`` (by default the file's
    code) from now on; None when that cannot be done (no bytecode cache tag, or
    ``dataclasses`` already has an ``exec`` of its own)."""
    if sys.implementation.cache_tag is None or "exec" in vars(dataclasses):
        return None
    codes = MethodCode(read() if known is None else known)
    dataclasses.exec = codes.exec  # type: ignore[attr-defined]
    return codes


def read() -> dict[str, CodeType]:
    """The file's code; nothing when it is missing, of another Python, or damaged."""
    try:
        data = cache_path().read_bytes()
    except OSError:
        return {}
    if data[: len(MAGIC_NUMBER)] != MAGIC_NUMBER:
        return {}
    try:
        known = marshal.loads(data[len(MAGIC_NUMBER) :])
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {k: v for k, v in known.items() if isinstance(k, str) and isinstance(v, CodeType)}


def save(codes: MethodCode) -> None:
    """Write the file again when this process compiled texts it lacked (replaced whole,
    so a reader never sees half of it; another process's additions may be lost, and are
    compiled again)."""
    if not codes.compiled:
        return
    path = cache_path()
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        temporary.write_bytes(MAGIC_NUMBER + marshal.dumps(codes.known))
        os.replace(temporary, path)
    except OSError:  # a read-only installation: each run compiles, as without the file
        temporary.unlink(missing_ok=True)


def build() -> int:
    """Import every module of the engine, compiling every dataclass method afresh, and
    write the file with exactly those (so it drops the texts of classes changed since).
    The number of methods written."""
    codes = install({})
    if codes is None:
        return 0
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional dependency missing: its classes compile when used
                continue
    save(codes)
    return len(codes.known)


if __name__ == "__main__":
    print(f"{build()} dataclass methods compiled into {cache_path()}")
