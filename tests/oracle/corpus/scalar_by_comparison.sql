-- scalar subqueries correlated by comparisons other than equalities: the outer rows'
-- distinct values joined with the subquery's rows, aggregated per value and joined back
-- on them (COUNT over no row is 0, a NULL value matches nothing)
-- mode: batch
SELECT id, (SELECT MAX(n.i) FROM nums n WHERE n.id > g.id) AS m FROM grp g
SELECT id, (SELECT COUNT(*) FROM nums n WHERE n.i < g.i) AS c FROM grp g
SELECT id, (SELECT SUM(n.b) FROM nums n WHERE n.id BETWEEN g.id - 1 AND g.id + 1 AND n.i IS NOT NULL) AS s FROM grp g
SELECT id FROM grp g WHERE i >= (SELECT AVG(n.i) FROM nums n WHERE n.id < g.id)
SELECT id, k FROM grp g WHERE k IS NOT NULL AND (SELECT COUNT(*) FROM nums n WHERE n.j > g.i) > 2
SELECT k, COUNT(*) AS c, MAX((SELECT MIN(n.j) FROM nums n WHERE n.id > grp.id)) AS m FROM grp GROUP BY k
-- mode: streaming
SELECT id, (SELECT MAX(n.i) FROM nums n WHERE n.id > g.id) AS m FROM grp g
SELECT id, (SELECT COUNT(*) FROM nums n WHERE n.i < g.i) AS c FROM grp g
