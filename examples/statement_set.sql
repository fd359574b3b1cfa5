-- One job, two sinks, one scan of the source: a statement set.
--   sqlstream run examples/statement_set.sql

CREATE TABLE readings (
    sensor  INT,
    reading DOUBLE,
    ts      AS TO_TIMESTAMP_LTZ(1700000000000 + seq * 100, 3),
    seq     BIGINT,
    WATERMARK FOR ts AS ts
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '1000',
    'fields.sensor.min' = '1',
    'fields.sensor.max' = '4',
    'fields.reading.min' = '0',
    'fields.reading.max' = '50',
    'fields.seq.kind' = 'sequence',
    'fields.seq.start' = '1',
    'fields.seq.end' = '1000'
);

CREATE TABLE alerts (sensor INT, reading DOUBLE) WITH ('connector' = 'print', 'print-identifier' = 'alert');
CREATE TABLE per_minute (sensor INT, readings BIGINT, avg_reading DOUBLE)
    WITH ('connector' = 'print', 'print-identifier' = 'minute');

EXECUTE STATEMENT SET
BEGIN
    INSERT INTO alerts SELECT sensor, reading FROM readings WHERE reading > 49.5;
    INSERT INTO per_minute
    SELECT sensor, COUNT(*), AVG(reading)
    FROM TABLE(TUMBLE(TABLE readings, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
    GROUP BY window_start, window_end, sensor;
END;
