"""Nexmark's three event tables (person, auction, bid) for the oracle: a small, bounded,
deterministic event stream in the shape of Nexmark's generator (the ``nexmark`` connector of
github.com/nexmark/nexmark, which Flink's Nexmark queries read), so that the public Nexmark
queries run unchanged through Flink and through sqlstream over the same rows.

Standard library only: the recorder imports it in Flink's own Python environment.

As in Nexmark, event ``n`` of every 50 is a person (1 in 50), an auction (3) or a bid (46);
person and auction ids start at 1000; an auction's seller is a "hot" seller 3 times in 4, a
bid's auction and bidder are hot 1 time in 2 and 3 in 4; categories are 10 to 14; prices
are log-uniform. Unlike the connector, every event has its own millisecond (events are
``STEP_MS`` apart, in order), and no auction sees the same price twice: every ORDER BY a
time or a price then has one answer, so Flink's final rows do not depend on arrival order.

>>> tables = generate(100)
>>> [len(tables[t]["rows"]) for t in ("person", "auction", "bid")]
[2, 6, 92]
>>> tables["bid"]["columns"][:3]
[['auction', 'BIGINT'], ['bidder', 'BIGINT'], ['price', 'BIGINT']]
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

EVENTS = 1000
STEP_MS = 30
SEED = 20
START = dt.datetime(2024, 1, 1)
WATERMARK = "FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND"  # as Nexmark's DDL

FIRST_ID = 1000
FIRST_CATEGORY = 10
CATEGORIES = 5
HOT_AUCTION_RATIO, HOT_SELLER_RATIO, HOT_BIDDER_RATIO = 2, 4, 4
FIRST_NAMES = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"]
LAST_NAMES = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"]
CITIES = ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle",
          "Kent"]  # fmt: skip
STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
CHANNELS = ["Google", "Facebook", "Baidu", "Apple"]

COLUMNS = {
    "person": [
        ["id", "BIGINT"], ["name", "STRING"], ["emailAddress", "STRING"], ["creditCard", "STRING"],
        ["city", "STRING"], ["state", "STRING"], ["dateTime", "TIMESTAMP(3)"], ["extra", "STRING"],
    ],
    "auction": [
        ["id", "BIGINT"], ["itemName", "STRING"], ["description", "STRING"], ["initialBid", "BIGINT"],
        ["reserve", "BIGINT"], ["dateTime", "TIMESTAMP(3)"], ["expires", "TIMESTAMP(3)"],
        ["seller", "BIGINT"], ["category", "BIGINT"], ["extra", "STRING"],
    ],
    "bid": [
        ["auction", "BIGINT"], ["bidder", "BIGINT"], ["price", "BIGINT"], ["channel", "STRING"],
        ["url", "STRING"], ["dateTime", "TIMESTAMP(3)"], ["extra", "STRING"],
    ],
}  # fmt: skip


def _timestamp(ms: int) -> str:
    """Flink's JSON spelling of a TIMESTAMP(3)."""
    t = START + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _word(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _price(rnd: random.Random) -> int:
    return round(10.0 ** (rnd.random() * 6) * 100)


def generate(events: int = EVENTS, seed: int = SEED) -> dict[str, dict[str, Any]]:
    """The three tables as oracle inputs: ``{"columns", "rows", "watermark"}`` each."""
    rnd = random.Random(seed)
    rows: dict[str, list[list[Any]]] = {"person": [], "auction": [], "bid": []}
    persons = auctions = 0  # how many of each so far (base-0 ids)
    prices: dict[int, set[int]] = {}
    for n in range(events):
        ms = n * STEP_MS
        ts = _timestamp(ms)
        offset = n % 50
        if offset < 1 or persons == 0:
            pid = FIRST_ID + persons
            persons += 1
            rows["person"].append([
                pid, f"{rnd.choice(FIRST_NAMES)} {rnd.choice(LAST_NAMES)}",
                f"{_word(rnd, 5)}@{_word(rnd, 4)}.com",
                " ".join(f"{rnd.randrange(10000):04d}" for _ in range(4)),
                rnd.choice(CITIES), rnd.choice(STATES), ts, _word(rnd, rnd.randrange(3, 8)),
            ])  # fmt: skip
        elif offset < 4 or auctions == 0:
            aid = FIRST_ID + auctions
            auctions += 1
            if rnd.randrange(HOT_SELLER_RATIO) > 0:
                seller = ((persons - 1) // HOT_SELLER_RATIO) * HOT_SELLER_RATIO
            else:
                seller = rnd.randrange(persons)
            initial = _price(rnd)
            expires = _timestamp(ms + rnd.randrange(2_000, 20_000))
            rows["auction"].append([
                aid, f"item {_word(rnd, 4)}", f"{_word(rnd, 6)} {_word(rnd, 5)}", initial,
                initial + _price(rnd), ts, expires, FIRST_ID + seller,
                FIRST_CATEGORY + rnd.randrange(CATEGORIES), _word(rnd, 3),
            ])  # fmt: skip
        else:
            if rnd.randrange(HOT_AUCTION_RATIO) > 0:
                auction = ((auctions - 1) // HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
            else:
                auction = max(0, auctions - 1 - rnd.randrange(20))
            if rnd.randrange(HOT_BIDDER_RATIO) > 0:
                bidder = ((persons - 1) // HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
            else:
                bidder = rnd.randrange(persons)
            seen = prices.setdefault(auction, set())
            price = _price(rnd)
            while price in seen:
                price += 1
            seen.add(price)
            channel = rnd.choice([*CHANNELS, f"channel-{rnd.randrange(100)}"])
            url = f"https://nexmark.com/{_word(rnd, 4)}?c={rnd.randrange(100)}"
            rows["bid"].append([
                FIRST_ID + auction, FIRST_ID + bidder, price, channel, url, ts, _word(rnd, 3),
            ])  # fmt: skip
    return {name: {"columns": COLUMNS[name], "rows": rows[name], "watermark": WATERMARK} for name in rows}
