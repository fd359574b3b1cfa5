-- MATCH_RECOGNIZE (Flink's "Pattern Recognition" page) over tests/oracle/ticker.py: the page's
-- example tables, one symbol each, so each query below runs over all of them; streaming on
-- event time (a bounded source: the end of input fires every pattern).
-- mode: streaming
-- the V shape: START_ROW PRICE_DOWN+ PRICE_UP, AFTER MATCH SKIP TO LAST PRICE_UP
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES START_ROW.rowtime AS start_tstamp, LAST(PRICE_DOWN.rowtime) AS bottom_tstamp, LAST(PRICE_UP.rowtime) AS end_tstamp ONE ROW PER MATCH AFTER MATCH SKIP TO LAST PRICE_UP PATTERN (START_ROW PRICE_DOWN+ PRICE_UP) DEFINE PRICE_DOWN AS (LAST(PRICE_DOWN.price, 1) IS NULL AND PRICE_DOWN.price < START_ROW.price) OR PRICE_DOWN.price < LAST(PRICE_DOWN.price, 1), PRICE_UP AS PRICE_UP.price > LAST(PRICE_DOWN.price, 1)) MR
-- aggregations in DEFINE and MEASURES (AVG of a BIGINT is a BIGINT)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES FIRST(A.rowtime) AS start_tstamp, LAST(A.rowtime) AS end_tstamp, AVG(A.price) AS avgPrice ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A+ B) DEFINE A AS AVG(A.price) < 15) MR
-- greedy and reluctant B
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES C.price AS lastPrice ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B* C) DEFINE A AS A.price > 10, B AS B.price < 15, C AS C.price > 12)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES C.price AS lastPrice ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B*? C) DEFINE A AS A.price > 10, B AS B.price < 15, C AS C.price > 12)
-- the price drop WITHIN an hour
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES C.rowtime AS dropTime, A.price - C.price AS dropDiff ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B* C) WITHIN INTERVAL '1' HOUR DEFINE B AS B.price > A.price - 10, C AS C.price < A.price - 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES C.rowtime AS dropTime, A.price - C.price AS dropDiff ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B* C) DEFINE B AS B.price > A.price - 10, C AS C.price < A.price - 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.rowtime AS t0, C.rowtime AS t1 ONE ROW PER MATCH PATTERN (A C) WITHIN INTERVAL '2' SECOND DEFINE C AS C.price > A.price)
-- output mode: partition columns, then the measures; no AFTER MATCH: SKIP TO NEXT ROW (Calcite's default)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES FIRST(A.price) AS startPrice, LAST(A.price) AS topPrice, B.price AS lastPrice ONE ROW PER MATCH PATTERN (A+ B) DEFINE A AS LAST(A.price, 1) IS NULL OR A.price > LAST(A.price, 1), B AS B.price < LAST(A.price))
-- the AFTER MATCH strategies
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES SUM(A.price) AS sumPrice, FIRST(rowtime) AS startTime, LAST(rowtime) AS endTime ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES SUM(A.price) AS sumPrice, FIRST(rowtime) AS startTime, LAST(rowtime) AS endTime ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES SUM(A.price) AS sumPrice, FIRST(rowtime) AS startTime, LAST(rowtime) AS endTime ONE ROW PER MATCH AFTER MATCH SKIP TO LAST A PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30)
SELECT * FROM (SELECT * FROM ticker WHERE symbol = 'SKIP') MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES SUM(A.price) AS sumPrice, FIRST(rowtime) AS startTime, LAST(rowtime) AS endTime ONE ROW PER MATCH AFTER MATCH SKIP TO LAST A PATTERN (A+ C) DEFINE A AS SUM(A.price) < 30)
-- SKIP TO LAST A fails the job above, where a match has one A (its first row: the next
-- match would start where this one did); SKIP TO FIRST C resumes at the last row
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES SUM(A.price) AS sumPrice, FIRST(rowtime) AS startTime, LAST(rowtime) AS endTime ONE ROW PER MATCH AFTER MATCH SKIP TO FIRST C PATTERN (A+ B C) DEFINE A AS SUM(A.price) < 30)
-- quantifiers: {n}, {n,}, {n,m}, {,m}, ?, reluctant +?, and aggregates, MATCH_ROWTIME()
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES COUNT(A.price) AS n, SUM(A.price) AS s, MIN(A.price) AS lo, MAX(A.price) AS hi, B.price AS b, MATCH_ROWTIME() AS mt ONE ROW PER MATCH PATTERN (A{2} B) DEFINE A AS A.price > 5, B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES COUNT(A.price) AS n, FIRST(A.price) AS f, LAST(A.price) AS l, B.price AS b ONE ROW PER MATCH PATTERN (A{2,} B) DEFINE A AS A.price > 10, B AS B.price <= 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES COUNT(A.price) AS n, FIRST(A.price) AS f, B.price AS b ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A{1,3} B) DEFINE A AS A.price > 10, B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES COUNT(*) AS n, SUM(price) AS total, FIRST(price) AS f, B.price AS b ONE ROW PER MATCH PATTERN (A{,2} B) DEFINE A AS A.price < 15, B AS B.price >= 15)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a, B.price AS b, C.price AS c ONE ROW PER MATCH PATTERN (A B? C) DEFINE B AS B.price > A.price, C AS C.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES FIRST(A.price) AS f, COUNT(A.price) AS n, C.price AS c ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A+? C) DEFINE C AS C.price > 20)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES FIRST(A.price) AS f, LAST(A.price, 1) AS l1, FIRST(A.price, 1) AS f1, C.price AS c ONE ROW PER MATCH PATTERN (A A2 A3? C) DEFINE A2 AS A2.price > A.price, A3 AS A3.price > A2.price, C AS C.price < A2.price)
-- navigation over every row of the match, arithmetic, NULL prices, ties ordered by a second key
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES FIRST(A.price) AS f, LAST(B.price) AS l, SUM(B.price) * 2 AS s2, SUM(B.price) / COUNT(B.price) AS q ONE ROW PER MATCH PATTERN (A B+ C) DEFINE B AS B.price > LAST(price, 1) OR B.price IS NULL, C AS C.price < LAST(price, 1))
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime, price DESC MEASURES A.price AS a, B.price AS b, B.rowtime AS bt ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A B) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime, price ASC MEASURES A.price AS a, B.price AS b ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A B) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.tax AS t, AVG(B.price) AS avg_b, C.price AS c ONE ROW PER MATCH PATTERN (A B+ C) DEFINE A AS A.tax = 1, B AS B.price > A.price, C AS C.price > AVG(B.price))
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a, B.price AS b ONE ROW PER MATCH PATTERN (A B) DEFINE A AS A.price BETWEEN 10 AND 14 AND NOT A.tax = 2, B AS B.price IS NOT NULL AND B.price <> A.price)
-- no PARTITION BY: one partition; the query on top of the match
SELECT sym, n FROM (SELECT * FROM ticker MATCH_RECOGNIZE (ORDER BY rowtime MEASURES FIRST(A.symbol) AS sym, COUNT(A.price) AS n ONE ROW PER MATCH PATTERN (A+ B) DEFINE A AS A.symbol = 'ACME', B AS B.symbol <> 'ACME'))
SELECT symbol, COUNT(*) AS n, MAX(drop_size) AS biggest FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price - B.price AS drop_size ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A B) DEFINE B AS B.price < A.price) GROUP BY symbol
DESCRIBE SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a, A.rowtime AS a_time, AVG(A.price) AS av, COUNT(A.price) AS n, SUM(A.tax) AS s, MATCH_ROWTIME() AS mt ONE ROW PER MATCH PATTERN (A B) DEFINE B AS B.price < A.price)
-- refused by both: ALL ROWS PER MATCH, alternation, PERMUTE, groups, ORDER BY not led by the
-- time, a greedy quantifier last, a pattern that can match nothing, A??
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ALL ROWS PER MATCH PATTERN (A B) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A | B) DEFINE B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (PERMUTE(A, B) C) DEFINE B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A (B C)+ D) DEFINE B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY price, rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A B) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime DESC MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A B) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A B*) DEFINE B AS B.price < A.price)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A* B?) DEFINE B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES B.price AS b ONE ROW PER MATCH PATTERN (A B?? C) DEFINE B AS B.price < 10)
SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a ONE ROW PER MATCH PATTERN (A B) DEFINE B AS B.price < PREV(B.price))
-- MATCH_ROWTIME() is a rowtime attribute: a window over the matches
SELECT TUMBLE_START(mt, INTERVAL '5' SECOND) AS ws, symbol, COUNT(*) AS n FROM (SELECT * FROM ticker MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowtime MEASURES A.price AS a, MATCH_ROWTIME() AS mt ONE ROW PER MATCH AFTER MATCH SKIP TO NEXT ROW PATTERN (A B) DEFINE B AS B.price < A.price)) GROUP BY TUMBLE(mt, INTERVAL '5' SECOND), symbol
