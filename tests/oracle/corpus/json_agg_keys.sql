-- JSON_OBJECTAGG's KEY over grp (see aggregates.sql): a key that is not a string, a NULL
-- key, a key that is a string expression.
SELECT JSON_OBJECTAGG(KEY id VALUE s) AS o FROM grp
SELECT JSON_OBJECTAGG(KEY k VALUE id) AS o FROM grp WHERE id > 6
SELECT JSON_OBJECTAGG(KEY k || CAST(id AS STRING) VALUE id) AS o FROM grp WHERE id < 3
