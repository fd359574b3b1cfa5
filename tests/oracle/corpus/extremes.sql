-- Extreme dates over far(id, ts TIMESTAMP(3), dt DATE, e BIGINT): the last millisecond of
-- 9999, 0001-01-01, 1900-02-28 (no leap day in 1900), NULL.
-- from: far
YEAR(ts)
DAYOFWEEK(dt)
DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm:ss.SSS')
CAST(ts AS STRING)
CAST(dt AS STRING)
ts + INTERVAL '1' DAY
dt + INTERVAL '1' DAY
TIMESTAMPDIFF(DAY, ts, TIMESTAMP '2000-01-01 00:00:00')
TO_TIMESTAMP_LTZ(e, 0)
FROM_UNIXTIME(e)
EXTRACT(EPOCH FROM ts)
FLOOR(ts TO YEAR)
CAST(ts AS DATE)
CAST(dt AS TIMESTAMP(3))
