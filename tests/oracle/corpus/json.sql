-- JSON functions over jsons(id, j STRING): an object with a nested object and an array,
-- '', text that is not JSON, a null member, a top-level array, NULL, unicode and numbers.
-- from: jsons
JSON_VALUE(j, '$.a')
JSON_VALUE(j, '$.b.c')
JSON_VALUE(j, '$.arr[1]')
JSON_VALUE(j, '$.missing')
JSON_VALUE(j, '$.a' RETURNING INT)
JSON_VALUE(j, '$.n' RETURNING DOUBLE)
JSON_VALUE(j, '$.t' RETURNING BOOLEAN)
JSON_VALUE(j, '$.a' DEFAULT 'dflt' ON EMPTY)
JSON_VALUE(j, '$.a' RETURNING INT DEFAULT -1 ON ERROR)
JSON_VALUE(j, 'strict $.missing' ERROR ON EMPTY)
JSON_VALUE(j, '$[0]')
JSON_VALUE(j, '$.b')
JSON_QUERY(j, '$.b')
JSON_QUERY(j, '$.arr')
JSON_QUERY(j, '$.a')
JSON_QUERY(j, '$.missing')
JSON_QUERY(j, '$.arr' WITH WRAPPER)
JSON_QUERY(j, '$.a' WITH CONDITIONAL ARRAY WRAPPER)
JSON_QUERY(j, '$')
JSON_EXISTS(j, '$.a')
JSON_EXISTS(j, '$.b.c')
JSON_EXISTS(j, '$.missing')
JSON_EXISTS(j, 'strict $.missing' FALSE ON ERROR)
JSON_EXISTS(j, '$[2].three')
j IS JSON
j IS JSON OBJECT
j IS JSON ARRAY
j IS JSON SCALAR
j IS NOT JSON
JSON_STRING(j)
JSON_STRING(id)
JSON_STRING(CAST(NULL AS INT))
JSON_OBJECT('k' VALUE j)
JSON_OBJECT('k' VALUE j ABSENT ON NULL)
JSON_OBJECT('id' VALUE id, 'k' VALUE JSON_QUERY(j, '$.b'))
JSON_OBJECT()
JSON_ARRAY(id, j)
JSON_ARRAY(j NULL ON NULL)
JSON_ARRAY()
JSON_QUOTE(j)
JSON_UNQUOTE(JSON_QUOTE(j))
SELECT JSON_OBJECTAGG(KEY CAST(id AS STRING) VALUE j) AS o FROM jsons WHERE id < 3
SELECT JSON_ARRAYAGG(id) AS a FROM jsons
