-- Datagen -> 10-second tumbling windows -> PostgreSQL, exactly-once (two-phase commit).
--
--   source <(scripts/services up postgres)     # our test server; or export SQLSTREAM_PG_DSN
--   psql "$SQLSTREAM_PG_DSN" -c 'CREATE TABLE IF NOT EXISTS clicks_per_window (
--       window_start timestamp(3) NOT NULL, window_end timestamp(3) NOT NULL,
--       user_id int NOT NULL, clicks bigint, PRIMARY KEY (window_start, user_id))'
--   sqlstream run examples/postgres_exactly_once.sql
--
-- Every checkpoint (each second) PREPAREs the transaction holding that second's rows and
-- COMMIT PREPARED follows when the checkpoint completes; after a crash, recovery commits
-- what the last checkpoint recorded and rolls back the rest, so each window lands once.
-- The server needs max_prepared_transactions > 0 (the sink says so when it is not).
-- Event time comes from a sequence, so every run computes the same table.

SET 'execution.checkpointing.interval' = '1 s';
SET 'pipeline.name' = 'postgres-exactly-once';

CREATE TABLE clicks (
    seq     BIGINT,
    user_id INT,
    ts      AS TO_TIMESTAMP_LTZ(1767225600000 + seq * 10, 3),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen',
    'rows-per-second' = '20000',
    'fields.seq.kind' = 'sequence',
    'fields.seq.start' = '0',
    'fields.seq.end' = '99999',
    'fields.user_id.min' = '1',
    'fields.user_id.max' = '5',
    'sqlstream.seed' = '42'
);

CREATE TABLE clicks_per_window (
    window_start TIMESTAMP(3),
    window_end   TIMESTAMP(3),
    user_id      INT,
    clicks       BIGINT,
    PRIMARY KEY (window_start, user_id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:postgresql://127.0.0.1:15432/sqlstream',
    'table-name' = 'clicks_per_window',
    'username' = 'sqlstream',
    'password' = 'sqlstream',
    'sink.delivery-guarantee' = 'exactly-once',
    'sink.transactional-id-prefix' = 'example-clicks-per-window'
);

INSERT INTO clicks_per_window
SELECT window_start, window_end, user_id, COUNT(*) AS clicks
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
