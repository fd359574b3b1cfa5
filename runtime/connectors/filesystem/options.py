"""Options of the ``filesystem`` connector shared by its source and sink."""

from __future__ import annotations

import os
import re

from catalog.connectors import CONNECTORS, FORMATS
from catalog.errors import OptionError
from catalog.options import OptionBag

CHUNK_RECORDS = 65536
META_KEYS = ("file.path", "file.name")
DEFAULT_FILE_SIZE = 128 * 1024 * 1024
DEFAULT_ROLLOVER_MS = 30 * 60 * 1000
_SIZE_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40,
}  # fmt: skip


def parse_memory_size(text: str, key: str) -> int:
    """Flink's memory size syntax: ``128MB``, ``1 gb``, ``4096`` (bytes)."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _SIZE_UNITS:
        raise OptionError(f"'{key}' = '{text}' is not a memory size", hint="write it like '128MB'")
    return int(m.group(1)) * _SIZE_UNITS[unit]


def local_path(path: str) -> str:
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif path.startswith("file:"):
        path = path[len("file:") :]
    return os.path.abspath(os.path.expanduser(path))


def options_bag(options: dict[str, str], table: str) -> OptionBag:
    return OptionBag(options, f"table '{table}'")


def finish_options(bag: OptionBag, fmt: str) -> None:
    """Consume the keys only the other side (source/sink) or the planner reads, then fail on
    whatever is left: a key neither the connector nor its format knows."""
    known = [*CONNECTORS["filesystem"].keys, "connector"]
    spec = FORMATS.get(fmt)
    if spec is not None:
        known += [o.key for o in spec.options]
    for key in known:
        bag.get(key)
    bag.finish(known)
