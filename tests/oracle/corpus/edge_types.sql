-- Where functions and types meet: the result types (DESCRIBE) and values of composed
-- expressions. Arithmetic across every pair of number types (DECIMAL precision and scale,
-- capped at 38; integer wrap as Java's; integer division), nested arithmetic, CASE /
-- COALESCE / IF / NULLIF / GREATEST / LEAST / IN / BETWEEN and comparisons mixing numbers,
-- CHAR(n) / VARCHAR(n) / STRING (CHAR's padding), DATE / TIMESTAMP(p); the implicit casts
-- Flink allows or refuses; || and CONCAT with NULL, CHAR(n) and numbers printed as text;
-- CAST chains. Over nums, strs, times and constants.
DESCRIBE SELECT ti + ti AS a, ti + si AS b, si + i AS c, i + b AS e, ti * b AS g, si - si AS h, ti % si AS k FROM nums
DESCRIBE SELECT i + d AS a, b + d AS b, ti + d AS c, si * d AS e, d + f AS g, d + r AS h, i + r AS k, b * r AS m, r + f AS n FROM nums
DESCRIBE SELECT d * d AS a, d / d AS b, d % d AS c, d / i AS e, i / d AS g, b / d AS h, d % i AS k, ti / d AS m, d - b AS n FROM nums
DESCRIBE SELECT i / j AS a, b / i AS b, ti / ti AS c, si % ti AS e, b % i AS g, -ti AS h, -si AS k, -d AS m, -r AS n, i % b AS p FROM nums
DESCRIBE SELECT CAST(d AS DECIMAL(38, 10)) * d AS a, CAST(d AS DECIMAL(38, 10)) + d AS b, CAST(d AS DECIMAL(38, 30)) / 3 AS c, CAST(d AS DECIMAL(20, 0)) * CAST(d AS DECIMAL(20, 0)) AS e, CAST(d AS DECIMAL(38, 0)) / CAST(d AS DECIMAL(38, 0)) AS g, CAST(d AS DECIMAL(30, 20)) % CAST(d AS DECIMAL(10, 9)) AS h FROM nums
DESCRIBE SELECT (i * b + d) / j AS a, (ti * si + i) / ti AS b, (d * 2 + 1.5) / 3 AS c, (f * i + d) / j AS e, (d * d * d) / d AS g, (r * ti - si) / j AS h FROM nums
DESCRIBE SELECT 1 + 1.5 AS a, 1 + 1e0 AS b, 2.50 * 2 AS c, 7 / 2 AS e, 7 / 2.0 AS g, 7 % 3 AS h, CAST(1 AS TINYINT) + CAST(1 AS TINYINT) AS k, 0.1 + 0.20 AS m, 1.5 / 3 AS n FROM onerow
DESCRIBE SELECT CASE WHEN i > 0 THEN i ELSE d END AS a, CASE WHEN i > 0 THEN ti ELSE si END AS b, CASE WHEN i > 0 THEN b ELSE r END AS c, CASE WHEN i > 0 THEN d ELSE CAST(d AS DECIMAL(20, 5)) END AS e, COALESCE(i, b, d) AS g, COALESCE(r, f) AS h, COALESCE(ti, 1.5) AS k FROM nums
DESCRIBE SELECT IF(i > 0, ti, d) AS a, NULLIF(d, 1.5) AS b, NULLIF(ti, 7) AS c, GREATEST(ti, si) AS e, LEAST(i, r) AS g, GREATEST(d, CAST(d AS DECIMAL(20, 5))) AS h, LEAST(b, d) AS k FROM nums
DESCRIBE SELECT CASE WHEN n > 0 THEN 'a' ELSE 'abc' END AS a, IF(n > 1, 'yes', 'no') AS b, COALESCE(s, 'x') AS c, CASE WHEN n > 0 THEN s ELSE 'none' END AS e, 'ab' || 'cd' AS g, CONCAT('ab', 'c') AS h, CAST(s AS CHAR(3)) AS k, CAST(s AS VARCHAR(3)) AS m FROM strs
DESCRIBE SELECT CAST(s AS CHAR(3)) || 'x' AS a, CONCAT(CAST(s AS CHAR(3)), s) AS b, COALESCE(CAST(s AS CHAR(3)), 'xyzw') AS c, CASE WHEN n > 0 THEN CAST(s AS CHAR(3)) ELSE CAST(s AS VARCHAR(5)) END AS e, NULLIF(s, 'a') AS g FROM strs
DESCRIBE SELECT COALESCE(ts, CAST(ts AS TIMESTAMP(6))) AS a, CASE WHEN id > 3 THEN ts ELSE CAST(ts AS TIMESTAMP(0)) END AS b, GREATEST(ts, CAST(ts AS TIMESTAMP(6))) AS c, IF(id > 3, dt, CAST(dt AS DATE)) AS e, CAST(ts AS DATE) AS g, CAST(dt AS TIMESTAMP(3)) AS h FROM times
DESCRIBE SELECT CAST(1.0E0 AS STRING) AS a, CAST(d AS STRING) AS b, CAST(i AS STRING) || 'x' AS c, CAST(CAST(f AS DECIMAL(10, 2)) AS INT) AS e FROM nums
DESCRIBE SELECT CAST(CAST(ts AS DATE) AS STRING) AS g, CAST(ts AS STRING) || 'x' AS h FROM times
DESCRIBE SELECT i IN (1, 7) AS a, d BETWEEN 1 AND 2 AS b, i = d AS c, ti < si AS e, r = f AS g, i IS NULL AS h FROM nums
-- from: nums
ti + ti
ti * ti
si + si
si * si
ti - si
ti * si
i + i
i * i
i - b
b + b
b * b
b * i
i * 2
b + 1
-i
-ti
-si
-b
-d
-r
ti + CAST(1 AS TINYINT)
ti - CAST(1 AS TINYINT)
si + CAST(1 AS SMALLINT)
CAST(ti AS SMALLINT) * CAST(ti AS SMALLINT)
i / j
b / j
ti / j
si / ti
ti / ti
i % j
b % j
si % j
-i / j
-i % j
i / 2
i / 2.0
i * 1.0
b * 1.5
b / 2.0
ti * 2.5
i + d
b + d
ti * d
si - d
d + f
d * r
i + r
b + f
b * r
r + f
d / j
d % j
f % j
r / j
d / 3
d / 7
d * d
d * d * d
d - d
-d * d
d / i
i / d
d % 0.07
(i * b + d) / j
(ti * si + i) / j
(d * 2 + 1.5) / 3
(f * i + d) / j
(r * ti - si) / j
(i + j) * (i - j)
(b - i) / (j * 2)
i * j + si * ti
CAST(d AS DECIMAL(38, 10)) * d
CAST(d AS DECIMAL(38, 10)) + d
CAST(d AS DECIMAL(38, 30)) / 3
CAST(d AS DECIMAL(38, 20)) * CAST(d AS DECIMAL(38, 20))
CAST(d AS DECIMAL(20, 0)) * CAST(d AS DECIMAL(20, 0))
CAST(b AS DECIMAL(38, 0)) * CAST(b AS DECIMAL(38, 0))
CAST(b AS DECIMAL(38, 0)) * CAST(b AS DECIMAL(38, 0)) * 100
CAST(b AS DECIMAL(19, 0)) + CAST(b AS DECIMAL(19, 0))
CAST(d AS DECIMAL(38, 0)) / CAST(j AS DECIMAL(38, 0))
CAST(d AS DECIMAL(30, 20)) % CAST(j AS DECIMAL(10, 9))
CAST(i AS DECIMAL(10, 0)) / 3
CAST(d AS DECIMAL(38, 2)) / 7
CASE WHEN i > 0 THEN i ELSE d END
CASE WHEN i > 0 THEN ti ELSE si END
CASE WHEN i > 0 THEN b ELSE f END
CASE WHEN i > 0 THEN d ELSE r END
CASE WHEN i > 0 THEN d ELSE CAST(d AS DECIMAL(20, 5)) END
CASE WHEN i > 0 THEN i ELSE 1.5 END
CASE WHEN i > 0 THEN i ELSE NULL END
CASE j WHEN 2 THEN d WHEN 1 THEN i ELSE f END
CASE WHEN i > 0 THEN 'a' ELSE 'abc' END
CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'negative' END
COALESCE(i, d)
COALESCE(i, b, d)
COALESCE(ti, 1.5)
COALESCE(r, f)
COALESCE(d, f)
COALESCE(ti, si, i) + 1
IF(i > 0, ti, d)
IF(i > 0, i, f)
IF(i > 0, 'yes', 'no')
IF(i > 0, 'x', 'long')
NULLIF(d, 1.5)
NULLIF(ti, 7)
NULLIF(i, 7.0)
NULLIF(f, d)
GREATEST(ti, si)
GREATEST(i, b)
LEAST(i, r)
LEAST(b, f)
GREATEST(COALESCE(d, 0), i)
LEAST(COALESCE(d, 0), 1.55)
i IN (1, 7, 2.5)
d IN (1.5, 2)
ti IN (7, 300)
f IN (1.5, 2)
r IN (0.1, 0.5)
r = 0.1
r = 0.1e0
CAST(r AS DOUBLE) = 0.1e0
i BETWEEN ti AND b
d BETWEEN 1 AND 2
f BETWEEN d AND i
i BETWEEN SYMMETRIC j AND 0
i = d
ti = si
d = f
b = f
d = 1.5e0
i < b
ti < 200
-- from: strs
CASE WHEN n > 0 THEN 'a' ELSE 'abc' END
CASE n WHEN 2 THEN 'two' WHEN 1 THEN 'one!' ELSE NULL END
IF(n > 1, 'ab', 'abcd') || '|'
CONCAT(IF(n > 1, 'ab', 'abcd'), '|')
CHAR_LENGTH(IF(n > 1, 'ab', 'abcd'))
CASE WHEN n > 0 THEN s ELSE 'none' END
COALESCE(s, 'x')
COALESCE(NULLIF(s, ''), 'empty')
s || CAST(NULL AS STRING)
CONCAT(s, CAST(NULL AS STRING))
CONCAT_WS('-', s, CAST(NULL AS STRING), t)
s || t || s
s || CAST(n AS STRING)
CONCAT(s, CAST(n AS STRING), t)
CAST(s AS CHAR(3))
CAST(s AS VARCHAR(3))
CAST(s AS CHAR(3)) || '|'
CONCAT(CAST(s AS CHAR(3)), '|')
CHAR_LENGTH(CAST(s AS CHAR(3)))
CAST(t AS CHAR(3)) || '|'
CONCAT(CAST(t AS CHAR(3)), '|')
CHAR_LENGTH(CAST(t AS CHAR(3)))
CAST(t AS CHAR(3)) = t
UPPER(CAST(t AS CHAR(3))) || '|'
COALESCE(CAST(t AS CHAR(3)), 'xyzw') || '|'
CASE WHEN n > 0 THEN CAST(t AS CHAR(3)) ELSE CAST(s AS VARCHAR(5)) END || '|'
s = 'Hello World'
s = 'Hello World  '
t = ' '
t = ''
s IN ('123', '', 'x')
s < 'b'
s BETWEEN 'A' AND 'b'
NULLIF(s, '')
GREATEST(s, t)
LEAST(s, 'b')
CAST(n AS STRING) || s
-- from: times
COALESCE(ts, CAST(ts AS TIMESTAMP(6)))
CASE WHEN id > 3 THEN ts ELSE CAST(ts AS TIMESTAMP(0)) END
GREATEST(ts, CAST(ts AS TIMESTAMP(6)) + INTERVAL '1' SECOND)
CAST(ts AS TIMESTAMP(6)) = ts
CAST(ts AS TIMESTAMP(0)) = ts
CAST(ts AS TIMESTAMP(0)) < ts
CAST(dt AS TIMESTAMP(3)) <= ts
ts BETWEEN CAST(dt AS TIMESTAMP(3)) AND CAST(dt AS TIMESTAMP(3)) + INTERVAL '1' DAY
ts IN (TIMESTAMP '2024-02-29 13:45:30.123', TIMESTAMP '1970-01-01 00:00:00')
dt IN (DATE '2024-02-29', DATE '1970-01-01')
CAST(ts AS DATE) = dt
CAST(CAST(ts AS DATE) AS STRING)
CAST(CAST(ts AS DATE) AS TIMESTAMP(3))
CAST(ts AS STRING)
CAST(CAST(ts AS TIMESTAMP(0)) AS STRING)
CAST(CAST(ts AS TIMESTAMP(6)) AS STRING)
CAST(CAST(dt AS TIMESTAMP(3)) AS STRING)
CAST(dt AS STRING) || ' ' || CAST(CAST(ts AS TIME(0)) AS STRING)
CAST(CAST(ts AS STRING) AS TIMESTAMP(3)) = ts
-- constants and implicit casts
-- from: onerow
CAST(1.0E0 AS STRING)
CAST(-0.0E0 AS STRING)
CAST(-0.0 AS STRING)
CAST(1.50 AS STRING)
CAST(CAST(1.5 AS DECIMAL(10, 4)) AS STRING)
CAST(CAST(0 AS DECIMAL(10, 4)) AS STRING)
CAST(CAST(-0.5 AS DECIMAL(3, 1)) AS STRING)
CAST(1e20 AS STRING)
CAST(1e7 AS STRING)
CAST(1234567.0e0 AS STRING)
CAST(0.001e0 AS STRING)
CAST(1e-4 AS STRING)
CAST(CAST(0.1 AS FLOAT) AS STRING)
CAST(CAST(1e10 AS FLOAT) AS STRING)
CAST(1.0E0 / 3 AS STRING)
CAST(7 / 2 AS STRING)
CAST(7 / 2.0 AS STRING)
CAST(0.1 + 0.20 AS STRING)
CAST(2.50 * 2 AS STRING)
'v=' || CAST(1.50 AS STRING)
'v=' || CAST(1.5E0 AS STRING)
CAST(TRUE AS STRING) || 'x'
'ab' || CAST(NULL AS STRING)
CONCAT('ab', CAST(NULL AS STRING), 'c')
CONCAT(CAST('ab' AS CHAR(5)), 'x')
CAST('ab' AS CHAR(5)) || 'x'
CHAR_LENGTH(CAST('ab' AS CHAR(5)))
CAST('ab' AS CHAR(5)) = 'ab'
CAST('ab' AS CHAR(5)) = CAST('ab' AS VARCHAR(5))
'a ' = 'a'
'a' < 'a '
CAST('abcdef' AS CHAR(3))
CAST('abcdef' AS VARCHAR(3)) || '|'
CAST(CAST(1.5e0 AS DECIMAL(5, 1)) AS INT)
CAST(CAST(-1.5e0 AS DECIMAL(5, 1)) AS INT)
CAST(CAST(2.675e0 AS DECIMAL(5, 2)) AS STRING)
CAST(CAST(1.005e0 AS DECIMAL(5, 2)) AS STRING)
CAST(CAST(0.1e0 AS DECIMAL(20, 18)) AS STRING)
CAST(CAST(1e300 AS DECIMAL(10, 2)) AS INT)
CAST(CAST(123.456 AS DECIMAL(5, 2)) AS DOUBLE)
CAST(CAST('123.456' AS DECIMAL(5, 2)) AS STRING)
CAST(CAST(9.99 AS DECIMAL(3, 1)) AS STRING)
CAST(CAST(3000000000 AS INT) AS STRING)
CAST(CAST(2.9e0 AS INT) AS DECIMAL(3, 1))
CAST(CAST(-2.9e0 AS BIGINT) AS STRING)
CAST(CAST(TIMESTAMP '2024-02-29 23:59:59.999' AS DATE) AS STRING)
CAST(CAST(CAST('2024-02-29 13:45:30.5' AS TIMESTAMP(3)) AS TIMESTAMP(0)) AS STRING)
CAST(CAST('2024-02-29' AS DATE) AS TIMESTAMP(3))
TIMESTAMP '2024-02-29 00:00:00' = DATE '2024-02-29'
DATE '2024-02-29' < TIMESTAMP '2024-02-29 00:00:01'
CASE WHEN id > 0 THEN DATE '2024-02-29' ELSE TIMESTAMP '2024-02-29 10:00:00' END
COALESCE(DATE '2024-02-29', TIMESTAMP '2024-02-29 10:00:00')
TIMESTAMP '2024-02-29 10:00:00.123456' = TIMESTAMP '2024-02-29 10:00:00.123'
TIMESTAMP '2024-02-29 10:00:00.1234' > TIMESTAMP '2024-02-29 10:00:00.123'
DATE '2024-02-29' = '2024-02-29'
TIMESTAMP '2024-02-29 10:00:00' = '2024-02-29 10:00:00'
1 = '1'
1 + '1'
1.5 = '1.5'
'1' || 2
CONCAT('a', 1)
CONCAT('a', 1.5, TRUE)
1 = TRUE
TRUE = 'true'
CASE WHEN id > 0 THEN 1 ELSE 'x' END
COALESCE(1, 'x')
COALESCE('x', 1)
GREATEST(1, '5')
1 IN ('1', '2')
1 BETWEEN '0' AND '2'
DATE '2024-02-29' = 20240229
DATE '2024-02-29' + 1
CAST(1 AS TINYINT) + CAST(127 AS TINYINT)
CAST(127 AS TINYINT) + CAST(1 AS TINYINT)
CAST(32767 AS SMALLINT) + CAST(1 AS SMALLINT)
2147483647 + 1
-2147483648 - 1
2147483647 * 2
9223372036854775807 + 1
-(-2147483648)
-(-9223372036854775807 - 1)
2147483647 + CAST(1 AS BIGINT)
7 / 2
-7 / 2
-7 % 2
7 % -2
7 / 2.0
7.0 / 2
1 / 3.0
1.0 / 3
CAST(1 AS DECIMAL(38, 0)) / 3
CAST(1 AS DECIMAL(38, 37)) / 3
CAST(1 AS DECIMAL(38, 10)) * CAST(1 AS DECIMAL(38, 10))
CAST(1 AS DECIMAL(20, 10)) + CAST(1 AS DECIMAL(38, 0))
CAST(10 AS DECIMAL(2, 0)) / CAST(3 AS DECIMAL(2, 0))
CAST(5 AS DECIMAL(2, 0)) % CAST(3 AS DECIMAL(5, 3))
1.5 * CAST(2 AS TINYINT)
1.5 + CAST(1 AS FLOAT)
CAST(1 AS FLOAT) / 3
CAST(1 AS FLOAT) + CAST(1 AS DOUBLE) / 3
(1 + 2) * 3 / 4
(1.5 * 2 + 1) / 3
(CAST(100 AS TINYINT) * CAST(2 AS TINYINT) + 1) / 3
-- from: nums
IF(i > 0, d, r)
CASE WHEN i > 0 THEN r ELSE d END
CASE WHEN i > 0 THEN r WHEN i < 0 THEN d ELSE f END
r IN (0.1e0, 0.5e0)
r = CAST(0.1 AS FLOAT)
r = f
r < 0.1
0.1e0 = r
f / 1.25 = r
r = f / 1.25
r <> 0.1e0
r BETWEEN 0.05e0 AND 0.1e0
NULLIF(r, 0.1e0)
CASE WHEN i > 0 THEN r ELSE f END
CASE WHEN i > 0 THEN f ELSE r END
-(-b)
-(-9223372036854775808)
-(-(2147483647))
-(1.5)
-(-2147483648) + 0
