"""Nexmark's three event tables (person, auction, bid): bounded, deterministic event streams
in the shape of Nexmark's generator (the ``nexmark`` connector of github.com/nexmark/nexmark,
which Flink's Nexmark queries read), so that the public Nexmark queries run unchanged through
Flink and through sqlstream over the same rows. One loop (``stream``) makes two sizes: the
oracle's (``generate``: 1000 small events, below) and Nexmark's own model at full size for
``benchmarks/nexmark.py`` (``write_files``: JSON files, see ``_Nexmark``).

Standard library only: the recorder imports it in Flink's own Python environment.

The oracle's events: as in Nexmark, event ``n`` of every 50 is a person (1 in 50), an
auction (3) or a bid (46); person and auction ids start at 1000; an auction's seller is a
"hot" seller 3 times in 4, a bid's auction and bidder are hot 1 time in 2 and 3 in 4;
categories are 10 to 14; prices are log-uniform. Unlike the connector, every event has its
own millisecond (events are ``STEP_MS`` apart, in order), and no auction sees the same price
twice: every ORDER BY a time or a price then has one answer, so Flink's final rows do not
depend on arrival order.

>>> tables = generate(100)
>>> [len(tables[t]["rows"]) for t in ("person", "auction", "bid")]
[2, 6, 92]
>>> tables["bid"]["columns"][:3]
[['auction', 'BIGINT'], ['bidder', 'BIGINT'], ['price', 'BIGINT']]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

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
    rows: dict[str, list[list[Any]]] = {"person": [], "auction": [], "bid": []}
    for table, row in stream(_Oracle(), events, random.Random(seed)):
        rows[table].append(row)
    return {name: {"columns": COLUMNS[name], "rows": rows[name], "watermark": WATERMARK} for name in rows}


def stream(model: Model, events: int, rnd: random.Random) -> Iterator[tuple[str, list[Any]]]:
    """Nexmark's event stream: event ``n`` of every 50 is a person (offset 0), an auction
    (1-3) or a bid (4-49), with person and auction ids counting up from 1000; ``model``
    makes each event's fields."""
    persons = auctions = 0  # how many of each so far (base-0 ids)
    for n in range(events):
        ts = _timestamp(model.event_ms(n))
        offset = n % 50
        if offset < 1 or persons == 0:
            persons += 1
            yield "person", model.person(rnd, FIRST_ID + persons - 1, ts)
        elif offset < 4 or auctions == 0:
            auctions += 1
            yield "auction", model.auction(rnd, n, FIRST_ID + auctions - 1, persons, ts)
        else:
            yield "bid", model.bid(rnd, persons, auctions, ts)


class Model(Protocol):
    """The fields of each kind of event, given the ids so far."""

    def event_ms(self, n: int) -> int: ...
    def person(self, rnd: random.Random, pid: int, ts: str) -> list[Any]: ...
    def auction(self, rnd: random.Random, n: int, aid: int, persons: int, ts: str) -> list[Any]: ...
    def bid(self, rnd: random.Random, persons: int, auctions: int, ts: str) -> list[Any]: ...


class _Oracle:
    """Small and tie-free for the oracle: short strings, every event its own millisecond, no
    auction sees the same price twice (the fixtures were recorded over exactly these rows)."""

    def __init__(self) -> None:
        self.prices: dict[int, set[int]] = {}

    def event_ms(self, n: int) -> int:
        return n * STEP_MS

    def person(self, rnd: random.Random, pid: int, ts: str) -> list[Any]:
        return [
            pid, f"{rnd.choice(FIRST_NAMES)} {rnd.choice(LAST_NAMES)}",
            f"{_word(rnd, 5)}@{_word(rnd, 4)}.com",
            " ".join(f"{rnd.randrange(10000):04d}" for _ in range(4)),
            rnd.choice(CITIES), rnd.choice(STATES), ts, _word(rnd, rnd.randrange(3, 8)),
        ]  # fmt: skip

    def auction(self, rnd: random.Random, n: int, aid: int, persons: int, ts: str) -> list[Any]:
        if rnd.randrange(HOT_SELLER_RATIO) > 0:
            seller = ((persons - 1) // HOT_SELLER_RATIO) * HOT_SELLER_RATIO
        else:
            seller = rnd.randrange(persons)
        initial = _price(rnd)
        expires = _timestamp(n * STEP_MS + rnd.randrange(2_000, 20_000))
        return [
            aid, f"item {_word(rnd, 4)}", f"{_word(rnd, 6)} {_word(rnd, 5)}", initial,
            initial + _price(rnd), ts, expires, FIRST_ID + seller,
            FIRST_CATEGORY + rnd.randrange(CATEGORIES), _word(rnd, 3),
        ]  # fmt: skip

    def bid(self, rnd: random.Random, persons: int, auctions: int, ts: str) -> list[Any]:
        if rnd.randrange(HOT_AUCTION_RATIO) > 0:
            auction = ((auctions - 1) // HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        else:
            auction = max(0, auctions - 1 - rnd.randrange(20))
        if rnd.randrange(HOT_BIDDER_RATIO) > 0:
            bidder = ((persons - 1) // HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        else:
            bidder = rnd.randrange(persons)
        seen = self.prices.setdefault(auction, set())
        price = _price(rnd)
        while price in seen:
            price += 1
        seen.add(price)
        channel = rnd.choice([*CHANNELS, f"channel-{rnd.randrange(100)}"])
        url = f"https://nexmark.com/{_word(rnd, 4)}?c={rnd.randrange(100)}"
        return [FIRST_ID + auction, FIRST_ID + bidder, price, channel, url, ts, _word(rnd, 3)]


class _Nexmark:
    """Nexmark's own model at its defaults (github.com/nexmark/nexmark, ``GeneratorConfig``
    and ``generator/model``): 10,000 events per second of event time, in order; hot sellers
    and bidders 3 times in 4 (the first and second person of the last 100), hot auctions 1
    time in 2 (the first of the last 100), the others among the last 1,000 people or 100
    auctions plus 10 not yet made; auctions expire within twice the time 100 auctions take;
    half the bids from the four hot channels, half from ``channel-N`` (N < 10,000) whose URL
    carries a ``channel_id`` 9 times in 10; ``extra`` pads each event to Nexmark's average size
    (person 200, auction 500, bid 100 bytes). Strings are drawn a whole string at a time
    (random bytes mapped to letters), not a letter at a time as Java's generator does."""

    EVENTS_PER_MS = 10
    HOT = 100  # batch whose first member is the hot seller / auction (second: hot bidder)
    ACTIVE_PEOPLE, IN_FLIGHT_AUCTIONS, LEAD = 1000, 100, 10
    SIZES = {"person": 200, "auction": 500, "bid": 100}

    def __init__(self, rnd: random.Random) -> None:
        self.hot_urls = [self._base_url(rnd) for _ in CHANNELS]
        self.channel_urls: dict[int, str] = {}

    def event_ms(self, n: int) -> int:
        return n // self.EVENTS_PER_MS

    def person(self, rnd: random.Random, pid: int, ts: str) -> list[Any]:
        name = f"{rnd.choice(FIRST_NAMES)} {rnd.choice(LAST_NAMES)}"
        email = f"{_text(rnd, 7)}@{_text(rnd, 5)}.com"
        card = " ".join(f"{rnd.randrange(10000):04d}" for _ in range(4))
        city, state = rnd.choice([*CITIES, "Cheyenne"]), rnd.choice(STATES)
        size = 8 + len(name) + len(email) + len(card) + len(city) + len(state)
        return [pid, name, email, card, city, state, ts, self._extra(rnd, "person", size)]

    def auction(self, rnd: random.Random, n: int, aid: int, persons: int, ts: str) -> list[Any]:
        if rnd.randrange(HOT_SELLER_RATIO) > 0:
            seller = ((persons - 1) // self.HOT) * self.HOT
        else:
            seller = self._person(rnd, persons)
        category = FIRST_CATEGORY + rnd.randrange(CATEGORIES)
        initial = _price(rnd)
        ahead = self.IN_FLIGHT_AUCTIONS * 50 // 3  # events until 100 more auctions
        now = self.event_ms(n)
        expires = now + 1 + rnd.randrange(max(2 * (self.event_ms(n + ahead) - now), 1))
        name, description = _text(rnd, 20), _text(rnd, 100)
        reserve = initial + _price(rnd)
        extra = self._extra(rnd, "auction", 8 + len(name) + len(description) + 40)
        return [
            aid, name, description, initial, reserve, ts, _timestamp(expires), FIRST_ID + seller, category,
            extra,
        ]  # fmt: skip

    def bid(self, rnd: random.Random, persons: int, auctions: int, ts: str) -> list[Any]:
        if rnd.randrange(HOT_AUCTION_RATIO) > 0:
            auction = ((auctions - 1) // self.HOT) * self.HOT
        else:
            low = max(auctions - 1 - self.IN_FLIGHT_AUCTIONS, 0)
            auction = low + rnd.randrange(auctions - low + self.LEAD)
        if rnd.randrange(HOT_BIDDER_RATIO) > 0:
            bidder = ((persons - 1) // self.HOT) * self.HOT + 1
        else:
            bidder = self._person(rnd, persons)
        price = _price(rnd)
        if rnd.randrange(2) > 0:
            i = rnd.randrange(len(CHANNELS))
            channel, url = CHANNELS[i], self.hot_urls[i]
        else:
            number = rnd.randrange(10_000)
            channel, url = f"channel-{number}", self._channel_url(rnd, number)
        extra = self._extra(rnd, "bid", 32)
        return [FIRST_ID + auction, FIRST_ID + bidder, price, channel, url, ts, extra]

    def _person(self, rnd: random.Random, persons: int) -> int:
        """Any of the last 1,000 people, or one of the next 10 not yet made."""
        active = min(persons, self.ACTIVE_PEOPLE)
        return persons - active + rnd.randrange(active + self.LEAD)

    def _extra(self, rnd: random.Random, table: str, size: int) -> str:
        """Letters that bring the event to its table's average size, +-20%."""
        left = self.SIZES[table] - size
        if left <= 0:
            return ""
        delta = round(left * 0.2)
        return _letters(rnd, left - delta + (rnd.randrange(2 * delta) if delta else 0))

    @staticmethod
    def _base_url(rnd: random.Random) -> str:
        dirs = "/".join(_text(rnd, 5, "_") for _ in range(3))
        return f"https://www.nexmark.com/{dirs}/item.htm?query=1"

    def _channel_url(self, rnd: random.Random, number: int) -> str:
        """A channel's URL, made the first time the channel bids."""
        if number not in self.channel_urls:
            url = self._base_url(rnd)
            if rnd.randrange(10) > 0:  # Java's abs(Integer.reverse(number))
                reverse = int(f"{number:032b}"[::-1], 2)
                url += f"&channel_id={abs(reverse - (1 << 32) if reverse >= 1 << 31 else reverse)}"
            self.channel_urls[number] = url
        return self.channel_urls[number]


_LETTERS = bytes(ord("a") + b % 26 for b in range(256))
_WORDS = bytes(ord(" ") if b % 13 == 0 else ord("a") + b % 26 for b in range(256))


def _letters(rnd: random.Random, n: int) -> str:
    """``n`` random lower-case letters."""
    return rnd.randbytes(n).translate(_LETTERS).decode("ascii")


def _text(rnd: random.Random, longest: int, space: str = " ") -> str:
    """Nexmark's ``nextString``: 3 to ``longest`` - 1 letters, about one in 13 a space (or
    ``space``), trimmed."""
    text = rnd.randbytes(3 + rnd.randrange(longest - 3)).translate(_WORDS).decode("ascii")
    return text.strip().replace(" ", space) if space != " " else text.strip()


NEXMARK_SEED = 46
# A JSON line per event; no generated string needs escaping (letters, digits, spaces and URL
# punctuation), which the unit test checks by reading lines back with json.loads.
_LINE = {
    name: "{" + ",".join(f'"{c}":' + ("%d" if t == "BIGINT" else '"%s"') for c, t in COLUMNS[name]) + "}\n"
    for name in COLUMNS
}


def write_files(directory: Path, events: int, seed: int = NEXMARK_SEED) -> dict[str, Path]:
    """``events`` events of Nexmark's model as ``person.json``, ``auction.json`` and
    ``bid.json`` in ``directory`` (JSON lines, the filesystem connector's ``json`` format):
    the same bytes for the same ``events`` and ``seed``."""
    rnd = random.Random(seed)
    paths = {name: directory / f"{name}.json" for name in COLUMNS}
    with contextlib.ExitStack() as stack:
        files = {
            n: stack.enter_context(open(p.with_suffix(".tmp"), "w", encoding="ascii"))
            for n, p in paths.items()
        }
        for table, row in stream(_Nexmark(rnd), events, rnd):
            files[table].write(_LINE[table] % tuple(row))
    for path in paths.values():
        path.with_suffix(".tmp").rename(path)
    return paths
