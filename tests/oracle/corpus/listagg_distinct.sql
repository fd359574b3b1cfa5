-- LISTAGG(DISTINCT ...) over grp (see aggregates.sql): first arrival order of each distinct
-- value, NULLs skipped, with a separator, FILTER, in windows and over an updating input.
SELECT k, LISTAGG(DISTINCT s, '|') AS v FROM grp GROUP BY k
SELECT k, LISTAGG(DISTINCT s) FILTER (WHERE i > 1) AS v FROM grp GROUP BY k
SELECT LISTAGG(DISTINCT k) AS v, LISTAGG(k) AS w FROM grp
SELECT k, LISTAGG(DISTINCT CAST(i AS STRING)) AS v, COUNT(DISTINCT i) AS n FROM grp GROUP BY k
SELECT window_start, LISTAGG(DISTINCT k) AS v FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' DAY)) GROUP BY window_start, window_end
-- mode: streaming
SELECT k, LISTAGG(DISTINCT s) AS v FROM grp GROUP BY k
SELECT LISTAGG(DISTINCT CAST(n AS STRING)) AS v FROM (SELECT k, COUNT(*) AS n FROM grp GROUP BY k)
