-- Flink's string functions take their text arguments as CHARACTER only: a number, a
-- DECIMAL or a DOUBLE there is refused when planned (where DuckDB would fail the job);
-- NULL and CHAR are taken
-- mode: batch
SELECT UPPER(b) AS u FROM grp
SELECT LOWER(f) AS u FROM grp
SELECT INITCAP(i) AS u FROM grp
SELECT CHAR_LENGTH(i) AS u FROM grp
SELECT CHARACTER_LENGTH(d) AS u FROM grp
SELECT TRIM(i) AS u FROM grp
SELECT LTRIM(d) AS u FROM grp
SELECT RTRIM(i) AS u FROM grp
SELECT LPAD(i, 5, 'x') AS u FROM grp
SELECT RPAD(k, 5, id) AS u FROM grp
SELECT REPEAT(i, 2) AS u FROM grp
SELECT REPLACE(i, '1', 'x') AS u FROM grp
SELECT REPLACE(k, 'a', id) AS u FROM grp
SELECT SUBSTRING(i FROM 1 FOR 1) AS u FROM grp
SELECT REVERSE(i) AS u FROM grp
SELECT UPPER(CAST(NULL AS STRING)) AS u, CHAR_LENGTH(CAST('ab' AS CHAR(3))) AS n, LPAD(k, 3, '*') AS p FROM grp
