"""The Nexmark event files the benchmark reads (``tests/oracle/nexmark.py``'s full-size model):
Nexmark's proportions and fields, the same bytes for the same seed, and lines the
filesystem connector's ``json`` format reads as the tables' columns."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.oracle import nexmark

EVENTS = 5000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return nexmark.write_files(tmp_path_factory.mktemp("nexmark"), EVENTS)


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


def test_persons_auctions_and_bids_come_one_to_three_to_forty_six(files: dict[str, Path]) -> None:
    counts = {name: len(rows(path)) for name, path in files.items()}
    assert counts == {"person": EVENTS // 50, "auction": EVENTS // 50 * 3, "bid": EVENTS // 50 * 46}


def test_the_same_seed_writes_the_same_bytes_and_another_seed_other_bytes(
    files: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "same").mkdir()
    (tmp_path / "other").mkdir()
    same = nexmark.write_files(tmp_path / "same", EVENTS)
    other = nexmark.write_files(tmp_path / "other", EVENTS, seed=nexmark.NEXMARK_SEED + 1)
    for name, path in files.items():
        assert same[name].read_bytes() == path.read_bytes()
        assert other[name].read_bytes() != path.read_bytes()


def test_every_line_is_a_json_object_of_the_tables_columns_and_types(files: dict[str, Path]) -> None:
    for name, path in files.items():
        columns = nexmark.COLUMNS[name]
        for row in rows(path):
            assert list(row) == [c for c, _ in columns]
            for column, kind in columns:
                assert isinstance(row[column], int if kind == "BIGINT" else str), (name, column, row)


def test_ids_count_up_from_1000_and_event_time_never_goes_back(files: dict[str, Path]) -> None:
    persons, auctions, bids = (rows(files[name]) for name in ("person", "auction", "bid"))
    assert [p["id"] for p in persons] == list(range(1000, 1000 + len(persons)))
    assert [a["id"] for a in auctions] == list(range(1000, 1000 + len(auctions)))
    for table in (persons, auctions, bids):
        times = [str(r["dateTime"]) for r in table]
        assert times == sorted(times)
    # 10,000 events a second: the last of 5,000 events is half a second in
    assert bids[-1]["dateTime"] == "2024-01-01 00:00:00.499"
    assert all(str(a["expires"]) > str(a["dateTime"]) for a in auctions)


def test_fields_follow_nexmarks_model_long_strings_included(files: dict[str, Path]) -> None:
    persons, auctions, bids = (rows(files[name]) for name in ("person", "auction", "bid"))
    # extra pads an event to Nexmark's average size: bid 100, person 200, auction 500 bytes
    assert 60 <= sum(len(str(b["extra"])) for b in bids) / len(bids) <= 76
    assert 450 <= sum(len(json.dumps(a)) for a in auctions) / len(auctions) <= 700
    channels = Counter(str(b["channel"]) for b in bids)
    hot = sum(channels[c] for c in ("Google", "Facebook", "Baidu", "Apple"))
    assert 0.45 < hot / len(bids) < 0.55
    assert all(c in ("Google", "Facebook", "Baidu", "Apple") or c.startswith("channel-") for c in channels)
    for b in bids:  # Nexmark q22's SPLIT_INDEX(url, '/', 3..5): three directories, then the page
        parts = str(b["url"]).split("/")
        assert parts[:3] == ["https:", "", "www.nexmark.com"] and parts[6].startswith("item.htm?query=1")
    with_id = [b for b in bids if "&channel_id=" in str(b["url"])]
    assert with_id and all(str(b["channel"]).startswith("channel-") for b in with_id)
    assert {a["category"] for a in auctions} == {10, 11, 12, 13, 14}
    hot_bidders = sum(1 for b in bids if (int(b["bidder"]) - 1000) % 100 == 1)
    assert hot_bidders / len(bids) > 0.7  # 3 in 4 bids come from the second person of the last 100
    assert {p["state"] for p in persons} <= {"AZ", "CA", "ID", "OR", "WA", "WY"}
