-- EXISTS and NOT EXISTS in WHERE that no equality of columns correlates: uncorrelated (every
-- row passes when the subquery has a row), or correlated by other comparisons only; a semi
-- or anti join without keys, every pair compared on one subtask, as Flink's
-- mode: batch
SELECT id FROM grp WHERE EXISTS (SELECT 1 FROM nums WHERE i > 100)
SELECT id FROM grp WHERE EXISTS (SELECT 1 FROM nums WHERE id > 100)
SELECT id FROM grp WHERE NOT EXISTS (SELECT 1 FROM nums WHERE id > 100)
SELECT id FROM grp WHERE NOT EXISTS (SELECT 1 FROM onerow)
SELECT id FROM grp WHERE i > 1 AND EXISTS (SELECT * FROM onerow)
SELECT id FROM grp WHERE EXISTS (SELECT 1 FROM onerow o WHERE o.id < grp.id)
SELECT id FROM grp g WHERE NOT EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i)
SELECT id FROM grp g WHERE EXISTS (SELECT 1 FROM nums n WHERE n.j BETWEEN g.i AND g.i + 1)
SELECT id FROM grp g WHERE NOT EXISTS (SELECT 1 FROM nums n WHERE n.id = g.id + 5)
SELECT id, k FROM grp g WHERE k IN (SELECT k FROM grp x WHERE x.i > g.i)
SELECT id FROM grp g WHERE i NOT IN (SELECT n.i FROM nums n WHERE n.id > g.id)
-- mode: streaming
SELECT id FROM grp WHERE EXISTS (SELECT 1 FROM nums WHERE i > 100)
SELECT id FROM grp WHERE NOT EXISTS (SELECT 1 FROM onerow)
SELECT id FROM grp g WHERE NOT EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i)
SELECT id FROM grp g WHERE EXISTS (SELECT 1 FROM nums n WHERE n.j BETWEEN g.i AND g.i + 1)
SELECT id FROM grp g WHERE NOT EXISTS (SELECT 1 FROM nums n WHERE n.id = g.id + 5)
-- the same EXISTS under OR and NOT, and as a value: the outer rows with a match (a semi
-- join) marked TRUE beside those without one (an anti join), Flink's mark join
-- mode: batch
SELECT id FROM grp g WHERE g.id > 6 OR EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i)
SELECT id FROM grp g WHERE g.k IS NULL OR NOT EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i + 5)
SELECT id, EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i) AS e FROM grp g
SELECT id, CASE WHEN EXISTS (SELECT 1 FROM nums n WHERE n.j BETWEEN g.i AND g.i + 1) THEN 'near' ELSE 'far' END AS c FROM grp g
SELECT id FROM grp g WHERE id < 3 OR EXISTS (SELECT 1 FROM onerow)
-- mode: streaming
SELECT id FROM grp g WHERE g.id > 6 OR EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i)
SELECT id, EXISTS (SELECT 1 FROM nums n WHERE n.i > g.i) AS e FROM grp g
