-- Unqualified names and the fields of a ROW column, over coll (see collections.sql):
-- Calcite looks into a ROW column's fields (PEEK_FIELDS) when a name is no column.
-- from: coll
SELECT id, x FROM coll
SELECT id, y FROM coll
SELECT id, r.x FROM coll
SELECT id, x FROM coll CROSS JOIN UNNEST(sa) AS u(x)
SELECT id, u.x FROM coll CROSS JOIN UNNEST(a) AS u(x)
SELECT id, e FROM coll CROSS JOIN UNNEST(a) AS u(e)
