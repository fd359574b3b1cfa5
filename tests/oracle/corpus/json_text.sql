-- The text of JSON_QUERY and JSON_VALUE results, over edge documents: keys sorted at every
-- level, numbers as Java's BigDecimal of their text (fraction, exponent, negative zero, big
-- integers), escapes and unicode in keys and strings.
SELECT id, JSON_QUERY(s, '$') AS q, JSON_VALUE(s, '$.n') AS v, JSON_QUERY(s, '$.o') AS o FROM (VALUES (1, '{"z": 1, "a": {"y": [2.50, {"d": 1, "c": 2}], "b": null}, "n": 1.0}'), (2, '{"n": -0.0, "o": {"m": 1e-7, "k": 0.0000012}}'), (3, '{"n": 123456789012345678901234567890, "o": {"e": 1E+2, "f": 2.5e-3}}'), (4, '{"ß": 1, "B": 2, "a\tb": "x\u0001y", "n": 12.50}'), (5, '{"n": "1.5e3", "o": [1.5e3]}'), (6, '{"n": 1e400, "o": {"\ud83d\ude00": 1, "\uffff": 2}}'), (7, '[3.0, {"b": 1, "a": 2}]')) AS t(id, s)
SELECT id, JSON_VALUE(s, '$.n' RETURNING DOUBLE) AS d, JSON_VALUE(s, '$.n' DEFAULT 'x' ON EMPTY) AS v FROM (VALUES (1, '{"n": 0.1}'), (2, '{"n": 1e2}'), (3, '{}'), (4, '{"n": -1.25E-10}')) AS t(id, s)
