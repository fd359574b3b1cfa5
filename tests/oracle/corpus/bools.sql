-- Three-valued logic and predicates over bools(id, x BOOLEAN, y BOOLEAN), every pair.
-- from: bools
x AND y
x OR y
NOT x
x IS TRUE
x IS NOT TRUE
x IS FALSE
x IS NOT FALSE
x IS UNKNOWN
x IS NOT UNKNOWN
x IS NULL
x = y
x <> y
x IS DISTINCT FROM y
x IS NOT DISTINCT FROM y
x < y
CAST(x AS STRING)
CAST(x AS INT)
COALESCE(x, y)
COALESCE(x, y, FALSE)
NULLIF(x, y)
IF(x, 1, 0)
IF(x, 'yes', 'no')
CASE WHEN x THEN 'x' WHEN y THEN 'y' END
CASE WHEN x THEN 'x' WHEN y THEN 'y' ELSE 'none' END
x IN (TRUE, NULL)
x AND NOT y OR y AND NOT x
GREATEST(x, y)
SELECT COUNT(x), COUNT(*) FROM bools
SELECT id FROM bools WHERE x
SELECT id FROM bools WHERE NOT x
SELECT id FROM bools WHERE x OR y
SELECT id FROM bools WHERE x IS NOT TRUE
