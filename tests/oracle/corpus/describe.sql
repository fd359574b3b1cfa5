-- Result types as a view's DESCRIBE shows them: names, types and nullability of columns.
DESCRIBE SELECT i + 1 AS a, i * b AS b, d + 1 AS c, d * d AS e, d / 7 AS f, i / j AS g, f * d AS h FROM nums
DESCRIBE SELECT CAST(i AS DECIMAL(5, 2)) AS a, ROUND(d, 1) AS b, FLOOR(d) AS c, ABS(si) AS e, MOD(b, i) AS g, POWER(i, 2) AS h FROM nums
DESCRIBE SELECT i, b, d, f, si, ti, r, id FROM nums
DESCRIBE SELECT COALESCE(i, 0) AS a, IFNULL(i, 0) AS b, NULLIF(i, 0) AS c, IF(i > 0, i, b) AS e, CASE WHEN i > 0 THEN d ELSE f END AS g FROM nums
DESCRIBE SELECT UPPER(s) AS a, CHAR_LENGTH(s) AS b, s || t AS c, SUBSTRING(s, 1, 2) AS e, 'lit' AS f, CONCAT(s, 'x') AS g FROM strs
DESCRIBE SELECT REGEXP_EXTRACT(s, '(a)', 1) AS a, SPLIT_INDEX(s, ',', 1) AS b, MD5(s) AS c, HASH_CODE(s) AS e, POSITION('a' IN s) AS f FROM strs
DESCRIBE SELECT YEAR(ts) AS a, DAYOFWEEK(ts) AS b, DAYOFMONTH(ts) AS c, DAYOFYEAR(ts) AS e, EXTRACT(HOUR FROM ts) AS f, DATE_FORMAT(ts, 'yyyy') AS g FROM times
DESCRIBE SELECT TIMESTAMPDIFF(DAY, ts, ts) AS a, UNIX_TIMESTAMP(s) AS b, FROM_UNIXTIME(e) AS c, ts + INTERVAL '1' DAY AS f, FLOOR(ts TO HOUR) AS g FROM times
DESCRIBE SELECT k, COUNT(*) AS n, COUNT(i) AS ni, SUM(i) AS si, SUM(b) AS sb, SUM(d) AS sd, SUM(f) AS sf FROM grp GROUP BY k
DESCRIBE SELECT k, AVG(i) AS ai, AVG(b) AS ab, AVG(d) AS ad, AVG(f) AS af, MIN(d) AS lo, MAX(s) AS hi FROM grp GROUP BY k
DESCRIBE SELECT k, SUM(i) FILTER (WHERE i > 0) AS a, COUNT(DISTINCT s) AS b FROM grp GROUP BY k
DESCRIBE SELECT x AND y AS a, x IS TRUE AS b, x = y AS c, NOT x AS e FROM bools
DESCRIBE SELECT CAST(s AS INT) AS a, TRY_CAST(s AS INT) AS b, CAST(s AS DATE) AS c, TRY_CAST(s AS DECIMAL(10, 2)) AS e FROM texts
DESCRIBE SELECT JSON_VALUE(j, '$.a') AS a, JSON_QUERY(j, '$') AS b, JSON_EXISTS(j, '$.a') AS c FROM jsons
DESCRIBE SELECT 1 AS a, 1.5 AS b, 'x' AS c, TRUE AS e, CAST(NULL AS INT) AS f, 2147483648 AS g, 1e3 AS h FROM onerow
