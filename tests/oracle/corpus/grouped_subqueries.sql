-- IN, EXISTS and quantified comparisons in the HAVING or the SELECT list of a query that
-- aggregates, outside its aggregate calls: answered on the aggregate's rows, as Flink
-- aggregates first and then joins; uncorrelated, or correlated by a group key
-- mode: batch
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING k IN (SELECT k FROM grp WHERE i > 1)
SELECT k, SUM(i) AS s FROM grp GROUP BY k HAVING SUM(i) IN (SELECT i FROM nums)
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING k NOT IN (SELECT k FROM grp WHERE i = 1)
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING k NOT IN (SELECT s FROM grp)
SELECT i, COUNT(*) AS n FROM grp GROUP BY i HAVING EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.i)
SELECT i, COUNT(*) AS n FROM grp GROUP BY i HAVING NOT EXISTS (SELECT 1 FROM nums n WHERE n.j = grp.i)
SELECT k, COUNT(*) AS n, k IN (SELECT k FROM grp WHERE i > 1) AS big FROM grp GROUP BY k
SELECT i, COUNT(*), EXISTS (SELECT 1 FROM nums n WHERE n.id = grp.i) FROM grp GROUP BY i
SELECT k, MAX(i) AS m FROM grp GROUP BY k HAVING MAX(i) > ALL (SELECT i FROM nums WHERE id < 4)
SELECT k, MAX(i) AS m FROM grp GROUP BY k HAVING MAX(i) = ANY (SELECT i FROM nums)
SELECT k, MIN(id) AS m, MIN(id) < SOME (SELECT id FROM nums WHERE i > 0) AS below FROM grp GROUP BY k
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING COUNT(*) > 2 OR k IN (SELECT k FROM grp WHERE id = 7)
SELECT UPPER(k) AS uk, COUNT(*) AS n FROM grp GROUP BY UPPER(k) HAVING UPPER(k) IN (SELECT 'A')
SELECT COUNT(*) AS n FROM grp HAVING COUNT(*) IN (SELECT id FROM nums)
SELECT k, COUNT(*) FILTER (WHERE i IN (SELECT i FROM nums)) AS f FROM grp GROUP BY k HAVING k IN (SELECT k FROM grp WHERE id < 7)
SELECT k, CASE WHEN k IN (SELECT k FROM grp WHERE i > 1) THEN SUM(b) ELSE 0 END AS s FROM grp GROUP BY k
SELECT k, i, COUNT(*) AS n FROM grp WHERE id < 8 GROUP BY k, i HAVING i IN (SELECT n.i FROM nums n WHERE n.id = grp.i)
SELECT DISTINCT COUNT(*) AS n FROM grp GROUP BY k HAVING k IN (SELECT k FROM grp)
SELECT k, SUM(i) AS s FROM grp GROUP BY k HAVING SUM(i) > (SELECT AVG(i) FROM grp) AND k IN (SELECT k FROM grp WHERE id > 4)
-- mode: streaming
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING k IN (SELECT k FROM grp WHERE i > 1)
SELECT k, SUM(i) AS s FROM grp GROUP BY k HAVING SUM(i) IN (SELECT i FROM nums)
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING k NOT IN (SELECT s FROM grp)
SELECT i, COUNT(*) AS n FROM grp GROUP BY i HAVING NOT EXISTS (SELECT 1 FROM nums n WHERE n.j = grp.i)
SELECT k, COUNT(*) AS n, k IN (SELECT k FROM grp WHERE i > 1) AS big FROM grp GROUP BY k
SELECT k, MAX(i) AS m FROM grp GROUP BY k HAVING MAX(i) > ALL (SELECT i FROM nums WHERE id < 4)
SELECT COUNT(*) AS n FROM grp HAVING COUNT(*) IN (SELECT id FROM nums)
-- correlated scalar subqueries in the HAVING or the SELECT list of a query that aggregates,
-- correlated by a group key: LEFT JOINed to the aggregate's rows on it
-- mode: batch
SELECT i, COUNT(*) AS n FROM grp GROUP BY i HAVING COUNT(*) >= (SELECT COUNT(*) FROM nums n WHERE n.id = grp.i)
SELECT i, COUNT(*) AS n, (SELECT MAX(j) FROM nums n WHERE n.id = grp.i) AS mj FROM grp GROUP BY i
SELECT k, SUM(b) AS s FROM grp GROUP BY k HAVING SUM(b) > (SELECT SUM(n.b) FROM grp n WHERE n.k = grp.k AND n.id < 3)
-- mode: streaming
SELECT i, COUNT(*) AS n, (SELECT MAX(j) FROM nums n WHERE n.id = grp.i) AS mj FROM grp GROUP BY i
-- scalar subqueries inside the aggregate calls (and FILTER) of a query that aggregates:
-- joined to the input's rows before it aggregates, uncorrelated or correlated by equalities
-- mode: batch
SELECT k, SUM(i + (SELECT MAX(id) FROM onerow)) AS s FROM grp GROUP BY k
SELECT COUNT(*) FILTER (WHERE i > (SELECT AVG(i) FROM nums)) AS n, MAX(b * (SELECT MIN(id) FROM onerow)) AS m FROM grp
SELECT k, MAX((SELECT MAX(n.j) FROM nums n WHERE n.id = grp.id)) AS m FROM grp GROUP BY k
SELECT k, COUNT(*) AS n FROM grp GROUP BY k HAVING SUM(i * (SELECT MAX(id) FROM onerow)) > 3
-- mode: streaming
SELECT k, SUM(i + (SELECT MAX(id) FROM onerow)) AS s FROM grp GROUP BY k
SELECT k, MAX((SELECT MAX(n.j) FROM nums n WHERE n.id = grp.id)) AS m FROM grp GROUP BY k
