-- The window examples of Flink's documentation, over its Bid table.
--   sqlstream run examples/windows.sql        (run from the repository root)
--   sqlstream explain examples/windows.sql

CREATE TABLE Bid (
    bidtime     TIMESTAMP(3),
    price       DECIMAL(10, 2),
    item        STRING,
    supplier_id STRING,
    WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) WITH (
    'connector' = 'filesystem',
    'path' = 'examples/data/bids.json',
    'format' = 'json'
);

-- TUMBLE: fixed, non-overlapping 10-minute windows.
SELECT window_start, window_end, SUM(price) AS total_price
FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '10' MINUTES))
GROUP BY window_start, window_end;

-- HOP: 10-minute windows every 5 minutes (named arguments work too).
SELECT window_start, window_end, SUM(price) AS total_price
FROM TABLE(HOP(DATA => TABLE Bid, TIMECOL => DESCRIPTOR(bidtime),
               SLIDE => INTERVAL '5' MINUTES, SIZE => INTERVAL '10' MINUTES))
GROUP BY window_start, window_end;

-- CUMULATE: every 2 minutes, the running total of the current 10-minute window.
SELECT window_start, window_end, SUM(price) AS total_price
FROM TABLE(CUMULATE(TABLE Bid, DESCRIPTOR(bidtime), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES))
GROUP BY window_start, window_end;

-- SESSION: per item, bids less than 5 minutes apart belong together.
SELECT window_start, window_end, item, SUM(price) AS total_price
FROM TABLE(SESSION(TABLE Bid PARTITION BY item, DESCRIPTOR(bidtime), INTERVAL '5' MINUTES))
GROUP BY item, window_start, window_end;

-- The legacy group-window syntax.
SELECT TUMBLE_START(bidtime, INTERVAL '10' MINUTE) AS window_start,
       TUMBLE_END(bidtime, INTERVAL '10' MINUTE) AS window_end,
       COUNT(*) AS bids, MAX(price) AS top_price
FROM Bid
GROUP BY TUMBLE(bidtime, INTERVAL '10' MINUTE);
