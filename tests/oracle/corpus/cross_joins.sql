-- Joins without an equality (CROSS JOIN, a comma join, ON with only <, >, <>, OR) and
-- scalar subqueries (a global aggregate or a literal row, or one aggregate correlated by
-- equalities) in SELECT and WHERE,
-- over grp(id, k, i, b, d, f, s) and nums(id, i, b, d, f, j, ...), both with NULLs.
SELECT a.id, b.id AS o FROM grp a CROSS JOIN onerow b
SELECT a.id, b.id AS o FROM grp a, onerow b
SELECT a.id, b.id AS o FROM grp a JOIN nums b ON a.i < b.j
SELECT a.id, b.id AS o FROM grp a, nums b WHERE a.i > b.i AND b.id < 4
SELECT a.id, b.id AS o FROM grp a LEFT JOIN nums b ON a.i > b.j
SELECT a.id, b.id AS o FROM grp a RIGHT JOIN nums b ON a.id * 2 = b.j OR a.i = b.i
SELECT a.id, b.id AS o FROM grp a FULL JOIN nums b ON a.i < b.j - 5
SELECT a.id, b.id AS o FROM grp a JOIN nums b ON a.id <> b.id AND a.k = 'b'
SELECT a.id, b.m FROM grp a CROSS JOIN (SELECT MAX(i) AS m FROM nums WHERE i < 100) b
SELECT id, (SELECT MAX(j) FROM nums) AS m FROM grp
SELECT id, i - (SELECT MIN(j) FROM nums WHERE j > 0) AS d FROM grp
SELECT id FROM grp WHERE i > (SELECT AVG(j) FROM nums)
SELECT id FROM grp WHERE i >= (SELECT COUNT(*) FROM nums) OR k IS NULL
SELECT id, (SELECT MAX(j) FROM nums WHERE j > 100) AS m FROM grp
SELECT id FROM grp WHERE (SELECT COUNT(*) FROM nums WHERE j > 100) = 0 AND id < 3
SELECT id, (SELECT 7) AS s, (SELECT SUM(i) FROM grp) - i AS r FROM grp
SELECT id, (SELECT COUNT(*) FROM nums WHERE j > 100) AS c FROM grp
SELECT id, (SELECT MAX(b) FROM grp x WHERE x.k = g.k) AS m FROM grp g
SELECT id, (SELECT COUNT(*) FROM grp x WHERE x.k = g.k AND x.i > 1) AS n FROM grp g
SELECT id, (SELECT SUM(i) FROM nums n WHERE n.id = g.i) AS s FROM grp g
SELECT id FROM grp g WHERE b > (SELECT AVG(b) FROM grp x WHERE x.k = g.k)
SELECT id, (SELECT COUNT(i) FROM nums n WHERE n.id = g.id AND n.j = g.i) AS c FROM grp g
-- mode: streaming
SELECT a.id, b.id AS o FROM grp a CROSS JOIN onerow b
SELECT a.id, b.id AS o FROM grp a JOIN nums b ON a.i < b.j
SELECT a.id, b.id AS o FROM grp a LEFT JOIN nums b ON a.i > b.j
SELECT a.id, b.id AS o FROM grp a FULL JOIN nums b ON a.i < b.j - 5
SELECT id, (SELECT MAX(j) FROM nums) AS m FROM grp
SELECT id FROM grp WHERE i > (SELECT AVG(j) FROM nums)
SELECT id, (SELECT MAX(j) FROM nums WHERE j > 100) AS m FROM grp
SELECT k, COUNT(*) AS n FROM grp WHERE i < (SELECT MAX(j) FROM nums) GROUP BY k
SELECT id, (SELECT COUNT(*) FROM nums WHERE j > 100) AS c FROM grp
SELECT id, (SELECT MAX(b) FROM grp x WHERE x.k = g.k) AS m FROM grp g
SELECT id, (SELECT COUNT(*) FROM grp x WHERE x.k = g.k AND x.i > 1) AS n FROM grp g
SELECT id FROM grp g WHERE b > (SELECT AVG(b) FROM grp x WHERE x.k = g.k)
