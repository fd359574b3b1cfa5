-- IN, NOT IN and EXISTS subqueries in WHERE whose operands are expressions, not columns:
-- the IN's left operand (UPPER(k), i * 2), the subquery's select item (i + 1, a literal,
-- a CAST), with NULLs on both sides (grp has a NULL i; nums has NULLs) and NOT IN's
-- three-valued logic over them. IN and EXISTS under OR (Flink's mark join), correlated or not.
SELECT id FROM grp WHERE id IN (SELECT 1)
SELECT id FROM grp WHERE id IN (SELECT i + 1 FROM grp)
SELECT id FROM grp WHERE i * 7 IN (SELECT i FROM nums)
SELECT id FROM grp WHERE UPPER(k) IN (SELECT UPPER(k) FROM grp WHERE i > 2)
SELECT id FROM grp WHERE UPPER(k) IN (SELECT 'A')
SELECT id FROM grp WHERE CAST(id AS BIGINT) IN (SELECT b / 10 FROM grp)
SELECT id FROM grp WHERE id NOT IN (SELECT i + 1 FROM grp)
SELECT id FROM grp WHERE id NOT IN (SELECT i + 1 FROM grp WHERE i IS NOT NULL)
SELECT id FROM grp WHERE i * 2 NOT IN (SELECT id + 2 FROM grp)
SELECT id FROM grp WHERE id + 0 NOT IN (SELECT id FROM nums WHERE i > 0)
SELECT id FROM nums WHERE ABS(i) IN (SELECT id * 7 FROM onerow)
SELECT id, k FROM grp WHERE k IN (SELECT k FROM grp WHERE i > 1) AND id * 1 IN (SELECT id FROM nums)
SELECT id FROM grp WHERE id = 8 OR k IN (SELECT k FROM grp WHERE i > 1)
SELECT id FROM grp WHERE i > 2 OR EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0)
SELECT id FROM grp WHERE (id < 4 AND i * 7 IN (SELECT i FROM nums)) OR s = 'z'
SELECT id FROM grp WHERE k IS NULL OR id IN (SELECT id FROM nums WHERE j > 2) OR EXISTS (SELECT 1 FROM onerow o WHERE o.id = grp.i)
-- mode: streaming
SELECT id FROM grp WHERE id IN (SELECT i + 1 FROM grp)
SELECT id FROM grp WHERE i * 2 NOT IN (SELECT id + 2 FROM grp)
SELECT id FROM grp WHERE UPPER(k) IN (SELECT UPPER(k) FROM grp WHERE i > 2)
SELECT id FROM grp WHERE id = 8 OR k IN (SELECT k FROM grp WHERE i > 1)
SELECT id FROM grp WHERE i > 2 OR EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0)
-- EXISTS under NOT, under OR or around it: TRUE or FALSE, never unknown, so a mark join answers it
-- mode: batch
SELECT id FROM grp WHERE i > 2 OR NOT EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0)
SELECT id FROM grp WHERE NOT (k IS NULL OR EXISTS (SELECT 1 FROM onerow o WHERE o.id = grp.i))
SELECT id, k FROM grp WHERE NOT (NOT EXISTS (SELECT 1 FROM nums n WHERE n.j = grp.i) AND id > 3)
-- mode: streaming
SELECT id FROM grp WHERE i > 2 OR NOT EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0)
SELECT id FROM grp WHERE NOT (k IS NULL OR EXISTS (SELECT 1 FROM onerow o WHERE o.id = grp.i))
-- NOT IN under OR, filtered as it is: TRUE for no subquery row, FALSE or unknown (filtered
-- alike) for a NULL needle or item; uncorrelated, over no rows, and correlated
-- mode: batch
SELECT id FROM grp WHERE id = 8 OR i NOT IN (SELECT i FROM nums)
SELECT id FROM grp WHERE id = 8 OR i NOT IN (SELECT i FROM nums WHERE i IS NOT NULL)
SELECT id FROM grp WHERE id < 3 OR NOT (i * 7 IN (SELECT i FROM nums WHERE id > 100))
SELECT id FROM grp WHERE k IS NULL OR i NOT IN (SELECT n.i FROM nums n WHERE n.id = grp.id)
-- mode: streaming
SELECT id FROM grp WHERE id = 8 OR i NOT IN (SELECT i FROM nums)
SELECT id FROM grp WHERE id = 8 OR i NOT IN (SELECT i FROM nums WHERE i IS NOT NULL)
SELECT id FROM grp WHERE k IS NULL OR i NOT IN (SELECT n.i FROM nums n WHERE n.id = grp.id)
-- uncorrelated scalar subqueries in the SELECT list and HAVING of a query that aggregates:
-- LEFT JOINed on TRUE to the aggregate's rows, as Flink plans them (NULL when none has rows)
-- mode: batch
SELECT k, COUNT(*) AS n, COUNT(*) * 100 / (SELECT COUNT(*) FROM grp) AS pct FROM grp GROUP BY k
SELECT k, SUM(i) AS s FROM grp GROUP BY k HAVING SUM(i) > (SELECT AVG(i) FROM grp)
SELECT COUNT(*) AS n, (SELECT MAX(id) FROM nums) AS m, (SELECT MIN(i) FROM nums WHERE id > 100) AS nothing FROM grp
SELECT COUNT(*) - (SELECT COUNT(*) FROM nums) AS d, SUM(i) AS s FROM grp WHERE id > 100
SELECT k, (SELECT MAX(i) FROM nums) - MAX(i) AS gap FROM grp GROUP BY k HAVING COUNT(*) < (SELECT COUNT(*) FROM onerow) + 2
SELECT k, (SELECT MAX(b) FROM grp) FROM grp GROUP BY k
-- mode: streaming
SELECT k, COUNT(*) AS n, COUNT(*) * 100 / (SELECT COUNT(*) FROM grp) AS pct FROM grp GROUP BY k
SELECT k, SUM(i) AS s FROM grp GROUP BY k HAVING SUM(i) > (SELECT AVG(i) FROM grp)
SELECT COUNT(*) AS n, (SELECT MAX(id) FROM nums) AS m FROM grp
-- IN and EXISTS as values: in the SELECT list, in CASE, under NOT twice, tested for NULL;
-- SQL's three-valued answer (unknown for a NULL needle, or a NULL item with no match),
-- correlated or not, over no rows
-- mode: batch
SELECT id, i IN (SELECT i FROM nums) FROM grp
SELECT id, i IN (SELECT i FROM nums WHERE i IS NOT NULL) AS f FROM grp
SELECT id, i NOT IN (SELECT i FROM nums) AS f FROM grp
SELECT id, i IN (SELECT i FROM nums WHERE id > 100) AS f, i NOT IN (SELECT i FROM nums WHERE id > 100) AS g FROM grp
SELECT id, EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0) AS f FROM grp
SELECT id, NOT EXISTS (SELECT 1 FROM nums n WHERE n.j = grp.i) AS f FROM grp
SELECT id, CASE WHEN k IN (SELECT k FROM grp WHERE i > 1) THEN 'in' ELSE 'out' END AS c FROM grp
SELECT id, i IN (SELECT n.j FROM nums n WHERE n.id = grp.id) AS f FROM grp
SELECT id, i + 5 IN (SELECT j + 1 FROM nums n WHERE n.id = grp.id) AS f FROM grp
SELECT id, id * 1 IN (SELECT id + 1 FROM nums WHERE i IS NOT NULL) AS f FROM grp
SELECT id FROM grp WHERE NOT (NOT (i IN (SELECT i FROM nums)))
SELECT id FROM grp WHERE CASE WHEN id > 4 THEN i IN (SELECT i FROM nums) ELSE TRUE END
SELECT id FROM grp WHERE (i IN (SELECT i FROM nums)) IS NULL
SELECT id, COALESCE(i NOT IN (SELECT j FROM nums WHERE id < 3), FALSE) AS f FROM grp
-- mode: streaming
SELECT id, i IN (SELECT i FROM nums) FROM grp
SELECT id, i NOT IN (SELECT i FROM nums) AS f FROM grp
SELECT id, EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0) AS f FROM grp
SELECT id, i IN (SELECT n.j FROM nums n WHERE n.id = grp.id) AS f FROM grp
SELECT id FROM grp WHERE NOT (NOT (i IN (SELECT i FROM nums)))
SELECT id FROM grp WHERE (i IN (SELECT i FROM nums)) IS NULL
-- quantified comparisons: = ANY is IN, <> ALL is NOT IN; the others compare with the
-- subquery's least or greatest item, with SQL's three values (unknown for a NULL needle
-- or a NULL item that could decide), TRUE for ALL and FALSE for ANY over no row
-- mode: batch
SELECT id, i = ANY (SELECT i FROM nums) AS f FROM grp
SELECT id, i <> ALL (SELECT i FROM nums WHERE i IS NOT NULL) AS f FROM grp
SELECT id, i > ALL (SELECT j FROM nums) AS f, i > ALL (SELECT j FROM nums WHERE j IS NOT NULL) AS g FROM grp
SELECT id, i < SOME (SELECT j FROM nums) AS f, i <= ANY (SELECT j FROM nums WHERE j IS NOT NULL) AS g FROM grp
SELECT id, i >= ALL (SELECT j FROM nums WHERE id > 100) AS f, i > ANY (SELECT j FROM nums WHERE id > 100) AS g FROM grp
SELECT id, i < ALL (SELECT n.j FROM nums n WHERE n.id = grp.id) AS f FROM grp
SELECT id FROM grp WHERE i > ALL (SELECT j FROM nums WHERE j < 3)
SELECT id FROM grp WHERE id = 1 OR i < ANY (SELECT j FROM nums WHERE j > 2)
-- mode: streaming
SELECT id, i > ALL (SELECT j FROM nums) AS f, i > ALL (SELECT j FROM nums WHERE j IS NOT NULL) AS g FROM grp
SELECT id, i < SOME (SELECT j FROM nums) AS f FROM grp
SELECT id FROM grp WHERE i > ALL (SELECT j FROM nums WHERE j < 3)
-- IN, EXISTS and quantified comparisons inside the aggregate calls of a query that
-- aggregates: answered on the input's rows, before aggregating
-- mode: batch
SELECT k, COUNT(*) FILTER (WHERE i IN (SELECT i FROM nums)) AS n, SUM(CASE WHEN EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0) THEN 1 ELSE 0 END) AS e FROM grp GROUP BY k
SELECT COUNT(*) FILTER (WHERE i NOT IN (SELECT i FROM nums WHERE i IS NOT NULL)) AS n, MAX(i) FILTER (WHERE i > ALL (SELECT j FROM nums WHERE j < 3)) AS m, COUNT(CASE WHEN i IN (SELECT j FROM nums) THEN 1 END) AS c FROM grp
-- mode: streaming
SELECT k, COUNT(*) FILTER (WHERE i IN (SELECT i FROM nums)) AS n, SUM(CASE WHEN EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.id AND n.i > 0) THEN 1 ELSE 0 END) AS e FROM grp GROUP BY k
SELECT COUNT(*) FILTER (WHERE i NOT IN (SELECT i FROM nums WHERE i IS NOT NULL)) AS n, MAX(i) FILTER (WHERE i > ALL (SELECT j FROM nums WHERE j < 3)) AS m, COUNT(CASE WHEN i IN (SELECT j FROM nums) THEN 1 END) AS c FROM grp
-- a row of columns IN a subquery's rows: compared column by column (a semi join on every
-- pair); NOT IN unknown, so the row dropped, where a NULL could make a row match
-- mode: batch
SELECT id FROM grp WHERE (i, b) IN (SELECT i, b FROM nums)
SELECT id FROM grp WHERE (k, i) IN (SELECT k, i + 1 FROM grp WHERE id > 2)
SELECT id FROM grp WHERE (i, b) NOT IN (SELECT i, b FROM nums WHERE id < 4)
SELECT id FROM grp WHERE (i, b) NOT IN (SELECT i, b FROM nums)
SELECT id FROM grp WHERE (i, id) NOT IN (SELECT i, id FROM nums WHERE id > 100)
-- mode: streaming
SELECT id FROM grp WHERE (i, b) IN (SELECT i, b FROM nums)
SELECT id FROM grp WHERE (i, b) NOT IN (SELECT i, b FROM nums WHERE id < 4)
-- an IN whose operand and item are a number and a string: refused when planned, as Flink's
-- validator refuses them (DuckDB would cast each row's text in the join and fail the job)
-- mode: batch
SELECT id FROM grp WHERE i IN (SELECT k FROM grp)
SELECT id, i IN (SELECT k FROM grp) AS f FROM grp
SELECT id FROM grp WHERE id = 8 OR k IN (SELECT i FROM grp)
