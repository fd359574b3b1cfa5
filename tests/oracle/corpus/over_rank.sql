-- OVER aggregations, Top-N, deduplication and window Top-N (#13) over Nexmark's bid and
-- auction tables (tests/oracle/nexmark.py: every event its own millisecond, no auction with
-- the same price twice), in streaming mode: Flink's final rows, its changelog applied.
-- A Top-N that ranks across auctions breaks price ties by the (unique) time, so that the
-- answer does not depend on arrival order.
-- from: bid
-- mode: streaming
-- OVER, ROWS: several aggregates over one named window
SELECT auction, price, `dateTime`, SUM(price) OVER w AS s, COUNT(*) OVER w AS n, MIN(price) OVER w AS lo, MAX(price) OVER w AS hi, AVG(price) OVER w AS a FROM bid WINDOW w AS (PARTITION BY auction ORDER BY `dateTime` ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
-- OVER, RANGE of an interval
SELECT bidder, price, `dateTime`, SUM(price) OVER (PARTITION BY bidder ORDER BY `dateTime` RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW) AS s, COUNT(*) OVER (PARTITION BY bidder ORDER BY `dateTime` RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW) AS n FROM bid
-- OVER, unbounded (ROWS and RANGE), and without PARTITION BY
SELECT channel, price, MAX(price) OVER (PARTITION BY channel ORDER BY `dateTime` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS hi, COUNT(*) OVER (PARTITION BY channel ORDER BY `dateTime` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n FROM bid
SELECT auction, price, SUM(price) OVER (PARTITION BY auction ORDER BY `dateTime` RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s, MIN(price) OVER (PARTITION BY auction ORDER BY `dateTime` RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS lo FROM bid
SELECT price, `dateTime`, COUNT(*) OVER w AS n, AVG(price) OVER w AS a FROM bid WINDOW w AS (ORDER BY `dateTime` RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW)
-- OVER aggregates over two different windows in one SELECT: refused by both
SELECT price, `dateTime`, COUNT(*) OVER (ORDER BY `dateTime` RANGE BETWEEN INTERVAL '1' SECOND PRECEDING AND CURRENT ROW) AS n, AVG(price) OVER (ORDER BY `dateTime` ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS a FROM bid
-- Top-N: the rank selected, rn = 1, rn BETWEEN, and Flink's no-ranking-number form
SELECT * FROM (SELECT auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) WHERE rn <= 3
SELECT * FROM (SELECT bidder, auction, price, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY price ASC) AS rn FROM bid) WHERE rn = 1
SELECT * FROM (SELECT auction, price, `dateTime`, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) WHERE rn BETWEEN 2 AND 4
SELECT auction, bidder, price FROM (SELECT auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) WHERE rn <= 3
SELECT price, `dateTime` FROM (SELECT price, `dateTime`, ROW_NUMBER() OVER (ORDER BY price DESC, `dateTime` ASC) AS rn FROM bid) WHERE rn <= 5
-- Top-N over an updating input (a GROUP BY)
SELECT * FROM (SELECT bidder, n, ROW_NUMBER() OVER (ORDER BY n DESC, bidder ASC) AS rn FROM (SELECT bidder, COUNT(*) AS n FROM bid GROUP BY bidder)) WHERE rn <= 3
SELECT * FROM (SELECT channel, auction, total, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY total DESC) AS rn FROM (SELECT channel, auction, SUM(price) AS total FROM bid GROUP BY channel, auction)) WHERE rn <= 2
-- Deduplication on the rowtime: keep the first row, keep the last row
SELECT auction, bidder, price, `dateTime` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY `dateTime` ASC) AS rn FROM bid) WHERE rn = 1
SELECT channel, auction, price, `dateTime` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY `dateTime` DESC) AS rn FROM bid) WHERE rn = 1
SELECT seller, id, category FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY seller ORDER BY `dateTime` ASC) AS rn FROM auction) WHERE rn = 1
-- Window Top-N over a window TVF, over a window aggregation, and window deduplication
SELECT * FROM (SELECT window_start, window_end, auction, bidder, price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC, `dateTime` ASC) AS rn FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))) WHERE rn <= 3
SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn FROM (SELECT window_start, window_end, auction, SUM(price) AS total, COUNT(*) AS cnt FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end, auction)) WHERE rn <= 3
SELECT window_start, channel, auction, price FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, channel ORDER BY price DESC, `dateTime` ASC) AS rn FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))) WHERE rn <= 2
SELECT window_start, window_end, bidder, auction, price, `dateTime` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, bidder ORDER BY `dateTime` DESC) AS rn FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))) WHERE rn = 1
