-- Event-time windows over events(id, k, v, ts TIMESTAMP(3) rowtime) and
-- events_ltz(..., ltz TIMESTAMP_LTZ(3) rowtime): the same instants around the US DST change
-- of 10 March 2024 (Los Angeles midnight is 08:00 UTC before it, 07:00 UTC after it).
-- from: events
ts
k
SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, window_time, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '6' HOUR)) GROUP BY window_start, window_end, window_time
SELECT window_start, window_end, k, COUNT(v) AS n, MAX(v) AS m FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end, k
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '7' HOUR)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '-1' HOUR)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '12' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, SUM(v) AS s FROM TABLE(CUMULATE(TABLE events, DESCRIPTOR(ts), INTERVAL '8' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT TUMBLE_START(ts, INTERVAL '1' DAY) AS ws, TUMBLE_END(ts, INTERVAL '1' DAY) AS we, COUNT(*) AS n FROM events GROUP BY TUMBLE(ts, INTERVAL '1' DAY)
SELECT HOP_START(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY) AS ws, COUNT(*) AS n FROM events GROUP BY HOP(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY)
DESCRIBE SELECT window_start, window_end, window_time, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end, window_time
DESCRIBE SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY))
SELECT HOP_START(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY) AS ws, HOP_END(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY) AS we, HOP_ROWTIME(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY) AS rt, COUNT(*) AS n FROM events GROUP BY HOP(ts, INTERVAL '12' HOUR, INTERVAL '1' DAY)
SELECT TUMBLE_ROWTIME(ts, INTERVAL '1' DAY) AS rt, COUNT(*) AS n FROM events GROUP BY TUMBLE(ts, INTERVAL '1' DAY)
SELECT TUMBLE_PROCTIME(ts, INTERVAL '1' DAY) IS NOT NULL AS p, COUNT(*) AS n FROM events GROUP BY TUMBLE(ts, INTERVAL '1' DAY)
DESCRIBE SELECT TUMBLE_START(ts, INTERVAL '1' DAY) AS ws, TUMBLE_END(ts, INTERVAL '1' DAY) AS we, TUMBLE_ROWTIME(ts, INTERVAL '1' DAY) AS rt, COUNT(*) AS n FROM events GROUP BY TUMBLE(ts, INTERVAL '1' DAY)
-- from: events_ltz
ltz
HOUR(ltz)
SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' HOUR)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(HOP(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '12' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end
DESCRIBE SELECT window_start, window_end, window_time, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' DAY)) GROUP BY window_start, window_end, window_time
-- tz: America/Los_Angeles
HOUR(ltz)
SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' HOUR)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(CUMULATE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '12' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end
-- tz: Asia/Kolkata
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' HOUR)) GROUP BY window_start, window_end
-- tz: UTC
-- mode: streaming
SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end
SELECT window_start, window_end, k, COUNT(*) AS n FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '12' HOUR, INTERVAL '1' DAY)) GROUP BY window_start, window_end, k
-- tz: America/Los_Angeles
SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE events_ltz, DESCRIPTOR(ltz), INTERVAL '1' DAY)) GROUP BY window_start, window_end
-- Session windows and group windows over TIMESTAMP_LTZ run in streaming mode only (Flink's batch
-- planner refuses them).
-- tz: UTC
SELECT SESSION_START(ts, INTERVAL '1' HOUR) AS ws, SESSION_END(ts, INTERVAL '1' HOUR) AS we, COUNT(*) AS n FROM events GROUP BY SESSION(ts, INTERVAL '1' HOUR)
SELECT k, SESSION_START(ts, INTERVAL '6' HOUR) AS ws, SUM(v) AS s FROM events GROUP BY k, SESSION(ts, INTERVAL '6' HOUR)
SELECT SESSION_ROWTIME(ts, INTERVAL '1' HOUR) AS rt, COUNT(*) AS n FROM events GROUP BY SESSION(ts, INTERVAL '1' HOUR)
-- tz: America/Los_Angeles
SELECT TUMBLE_START(ltz, INTERVAL '1' DAY) AS ws, COUNT(*) AS n FROM events_ltz GROUP BY TUMBLE(ltz, INTERVAL '1' DAY)
