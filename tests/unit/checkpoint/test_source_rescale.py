"""Sources with splits resume at another parallelism: each split once, from where it was."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from catalog.errors import SqlStreamError
from tests.unit.connectors.helpers import ctx, fields, read_all, source_spec
from tests.unit.connectors.test_filesystem import json_lines, rows, source


async def read_some(src, n: int) -> tuple[list[int], dict]:  # type: ignore[no-untyped-def]
    await src.open()
    ids: list[int] = []
    while len(ids) < n and not src.finished:
        b = await src.poll(10)
        if b is not None:
            ids += b.column("id").to_pylist()
    return ids, json.loads(json.dumps(src.position()))


@pytest.mark.parametrize(("before", "after"), [(2, 1), (2, 3), (1, 2)])
def test_filesystem_splits_are_reassigned(tmp_path: Path, before: int, after: int) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.json").write_text(json_lines(rows(40, 40 * i)))
    seen: list[int] = []
    positions = []
    for j in range(before):
        ids, pos = asyncio.run(read_some(source(tmp_path, "json", subtask=j, parallelism=before), 50))
        seen += ids
        positions.append(pos)
    for j in range(after):
        src = source(tmp_path, "json", subtask=j, parallelism=after)
        src.restore_rescaled(positions)
        seen += read_all(src).column("id").to_pylist()
    assert sorted(seen) == list(range(200))


def test_a_source_without_splits_refuses_another_parallelism() -> None:
    from runtime.connectors.datagen.source import DatagenSource

    spec = source_spec("datagen", {"number-of-rows": "10"}, fields("v BIGINT"))
    with pytest.raises(SqlStreamError, match="another parallelism"):
        DatagenSource(spec, ctx(0, 2)).restore_rescaled([{"rows": 3}])
