-- LAG in an OVER window over the ticker (tests/oracle/ticker.py: symbols as partitions, rows
-- of one time in TIES, a NULL price) and the events (NULL values, a NULL key). In streaming
-- mode Flink runs LAG as an OVER aggregate (LagAggFunction: the last offset + 1 values of the
-- partition, the current row's included) over an UNBOUNDED frame, rows of one time in arrival
-- order; over RANGE (the default frame) rows of one time are accumulated together, so all get
-- the value before the last of them. A bounded frame would need LAG to retract (refused), and
-- LEAD is refused in streaming mode.
-- mode: streaming
SELECT symbol, price, rowtime, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS prv FROM ticker
SELECT symbol, price, LAG(price, 2) OVER (PARTITION BY symbol ORDER BY rowtime) AS p2, LAG(price, 5) OVER (PARTITION BY symbol ORDER BY rowtime) AS p5 FROM ticker
SELECT symbol, price, LAG(price, 20) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price, 0) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
-- ROWS and RANGE frames given, UNBOUNDED: ties in arrival order (ROWS) or together (RANGE)
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS p FROM ticker
SELECT symbol, price, LAG(price, 2) OVER (PARTITION BY symbol ORDER BY rowtime ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS p FROM ticker
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS p FROM ticker
-- no PARTITION BY: one partition, rows of one time from several symbols
SELECT symbol, price, LAG(symbol) OVER (ORDER BY rowtime) AS s, LAG(price, 3) OVER (ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(symbol) OVER (ORDER BY rowtime ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s FROM ticker
-- a default value, and its type: the argument's, or one cast to it
SELECT symbol, price, LAG(price, 1, CAST(-1 AS BIGINT)) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price, 3, -1) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price, 1, NULL) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(symbol, 2, 'none') OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT id, v, LAG(v, 1, 0) OVER (PARTITION BY k ORDER BY ts) AS p FROM events
SELECT id, v, LAG(v, 2, 100) OVER (ORDER BY ts) AS p FROM events
SELECT symbol, LAG(CAST(price AS DECIMAL(10, 2)), 1, 0.5) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker WHERE price IS NOT NULL
SELECT symbol, LAG(CAST(price AS DOUBLE), 1, 0.5) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, LAG(rowtime, 1, TIMESTAMP '2000-01-01 00:00:00') OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
-- NULL values and a NULL key; a NULL value lagged where a NOT NULL default makes the type NOT NULL
SELECT id, k, v, LAG(v) OVER (PARTITION BY k ORDER BY ts) AS p, LAG(k) OVER (PARTITION BY k ORDER BY ts) AS pk FROM events
-- every type family: numbers, strings, timestamps, decimals, booleans
SELECT symbol, price, LAG(rowtime) OVER w AS t, LAG(CAST(price AS DECIMAL(10, 2)) / 4) OVER w AS d, LAG(CAST(price AS DOUBLE) / 4) OVER w AS f, LAG(price > 10) OVER w AS b, LAG(CAST(tax AS TINYINT)) OVER w AS ti, LAG(CAST(rowtime AS DATE)) OVER w AS dt FROM ticker WINDOW w AS (PARTITION BY symbol ORDER BY rowtime)
SELECT id, LAG(ts) OVER (PARTITION BY k ORDER BY ts) AS t, LAG(CAST(v AS DECIMAL(5, 1))) OVER (PARTITION BY k ORDER BY ts) AS d, LAG(CAST(v AS FLOAT)) OVER (PARTITION BY k ORDER BY ts) AS f FROM events
SELECT id, LAG(ltz) OVER (PARTITION BY k ORDER BY ltz) AS t FROM events_ltz
-- LAG beside other OVER aggregates, and inside an expression
SELECT symbol, price, LAG(price) OVER w AS prv, SUM(price) OVER w AS s, COUNT(*) OVER w AS n, MAX(price) OVER w AS hi, FIRST_VALUE(price) OVER w AS f FROM ticker WINDOW w AS (PARTITION BY symbol ORDER BY rowtime)
SELECT symbol, price, LAG(price) OVER w AS prv, AVG(price) OVER w AS a, LAG(price, 2) OVER w AS p2 FROM ticker WINDOW w AS (PARTITION BY symbol ORDER BY rowtime ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
SELECT symbol, price, price - LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS delta FROM ticker
SELECT symbol, price, COALESCE(LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime), 0) + 1 AS p FROM ticker WHERE tax = 1
SELECT * FROM (SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS prv FROM ticker) WHERE price > prv
-- the result types, NOT NULL with a NOT NULL default
DESCRIBE SELECT symbol, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS a, LAG(symbol, 1, 'x') OVER (PARTITION BY symbol ORDER BY rowtime) AS b, LAG(rowtime) OVER (PARTITION BY symbol ORDER BY rowtime) AS c FROM ticker
-- what Flink refuses: a bounded frame (LAG does not retract), LEAD, ordering not by time
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS p FROM ticker
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime RANGE BETWEEN INTERVAL '2' SECOND PRECEDING AND CURRENT ROW) AS p FROM ticker
SELECT symbol, price, LEAD(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LEAD(price, 2, CAST(0 AS BIGINT)) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS p, LEAD(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS q FROM ticker
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY price) AS p FROM ticker
SELECT symbol, price, LAG(price, tax) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price, -1) OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price, 1, 'x') OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime) AS p, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY rowtime) AS rn FROM ticker
-- null treatment: RESPECT NULLS is LAG's default
SELECT symbol, price, LAG(price) RESPECT NULLS OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
SELECT symbol, price, LAG(price) IGNORE NULLS OVER (PARTITION BY symbol ORDER BY rowtime) AS p FROM ticker
-- mode: batch
-- batch: LAG and LEAD over the bounded input, sorted (ties broken by a second key)
SELECT symbol, price, rowtime, LAG(price) OVER (PARTITION BY symbol ORDER BY rowtime, tax) AS prv FROM ticker
SELECT symbol, price, LAG(price, 2, CAST(-1 AS BIGINT)) OVER (PARTITION BY symbol ORDER BY rowtime, tax) AS p2, LEAD(price) OVER (PARTITION BY symbol ORDER BY rowtime, tax) AS n FROM ticker
SELECT id, k, v, LAG(v) OVER (PARTITION BY k ORDER BY ts) AS p, LAG(id, 1, 0) OVER (ORDER BY id DESC) AS q FROM events
SELECT id, LAG(k, 3) OVER (ORDER BY v) AS p FROM events
SELECT id, LEAD(ts, 1) OVER (PARTITION BY k ORDER BY ts) AS t, LEAD(v, 2, -1) OVER (PARTITION BY k ORDER BY ts) AS n FROM events
SELECT id, LAG(v) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS p FROM events
SELECT symbol, price, LAG(price, tax) OVER (PARTITION BY symbol ORDER BY rowtime, tax) AS p FROM ticker
DESCRIBE SELECT id, LAG(v) OVER (ORDER BY ts) AS a, LAG(v, 1, 0) OVER (ORDER BY ts) AS b, LEAD(k, 1, 'z') OVER (ORDER BY ts) AS c FROM events
