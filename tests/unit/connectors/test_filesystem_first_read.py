"""A read the file source waits for (a file's first chunk) is made in two halves on two
threads (``_read_and_scan_halves``): the bytes, the newlines found and the file's position
after it must be what one read gives, wherever the file ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runtime.connectors.filesystem import source as source_module
from runtime.connectors.filesystem.source import _LineFile, _read_and_scan, _read_and_scan_halves


def _lines(draw: st.DrawFn) -> bytes:
    lengths = draw(st.lists(st.integers(0, 40), max_size=80))
    return b"".join(b"x" * n + b"\n" for n in lengths) + b"y" * draw(st.integers(0, 5))


@settings(max_examples=200, deadline=None)
@given(
    data=st.composite(_lines)(),
    at=st.integers(0, 100),
    kept=st.integers(0, 30),
    room=st.integers(1, 3000),
    read_block=st.sampled_from([1, 7, 64, 1 << 20]),
)
@example(data=b"a\n" * 10, at=0, kept=0, room=10, read_block=64)  # the file ends at the halves' seam
@example(data=b"a\n" * 10, at=0, kept=0, room=11, read_block=64)  # in the second half
@example(data=b"a\n" * 10, at=0, kept=0, room=30, read_block=64)  # in the first half
def test_a_read_in_halves_gives_what_one_read_gives(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, at: int, kept: int, room: int, read_block: int
) -> None:
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(data)
    at = min(at, len(data))
    saved = source_module._READ_BLOCK
    source_module._READ_BLOCK = read_block
    try:
        results = []
        for read in (_read_and_scan, _read_and_scan_halves):
            buf = np.full(kept + room, 7, dtype=np.uint8)  # ``kept`` bytes before the read's
            with open(path, "rb") as f:
                f.seek(at)
                if read is _read_and_scan:
                    got, found = _read_and_scan(f, buf, kept, kept)
                else:
                    got, found = _read_and_scan_halves(f, str(path), buf, kept)
                newlines = np.concatenate([np.zeros(0, np.int64), *found]).tolist()
                results.append((got, buf[: kept + got].tobytes(), newlines, f.tell()))
    finally:
        source_module._READ_BLOCK = saved
    one, halves = results
    assert halves == one
    got, read, newlines, after = halves
    assert read[kept:] == data[at : at + got] and after == at + got
    assert newlines == [kept + i for i, b in enumerate(data[at : at + got]) if b == 10]


def test_a_file_read_with_its_first_chunk_in_halves_gives_every_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chunk the caller waits for is read in halves here; the reads ahead are not."""
    monkeypatch.setattr(source_module, "_HALVED_READ", 1)
    monkeypatch.setattr(source_module, "_READ_BLOCK", 64)
    lines = [b"%d" % i + b"-" * (i % 37) for i in range(5000)]
    path = tmp_path / "a.txt"
    path.write_bytes(b"\n".join(lines))  # the last line without its newline
    for max_lines in (1, 333, 4096, 10_000):
        lf = _LineFile(str(path), 0, 1)
        seen: list[bytes] = []
        offsets = []
        while (got := lf.next_block(max_lines)) is not None:
            chunk, count = got
            part = bytes(chunk).split(b"\n")
            part = part[:-1] if bytes(chunk).endswith(b"\n") else part
            assert len(part) == count
            seen += part
            offsets.append(lf.offset)
        lf.close()
        assert seen == lines
        assert offsets[-1] == path.stat().st_size and lf.line == 5001
