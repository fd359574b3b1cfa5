-- Kafka -> uppercase -> Kafka, exactly-once (Kafka transactions, two-phase commit).
--
--   source <(scripts/services up kafka)        # our test broker; or export SQLSTREAM_KAFKA_BOOTSTRAP
--   (create the topics 'words' and 'words-upper', then write a few lines into 'words')
--   sqlstream -f examples/kafka_exactly_once.sql
--
-- Each second a checkpoint pre-commits the sink's open transaction (every record flushed
-- and acknowledged, the transaction left open) and records its handle (transactional id,
-- producer id, epoch) with the source's offsets; once the checkpoint is complete the
-- transaction is committed. After a crash, recovery commits what the last checkpoint
-- recorded, aborts every other transaction of the prefix and reads on from the recorded
-- offsets, so a read_committed consumer of 'words-upper' sees each line exactly once.
-- The broker at 127.0.0.1:19092 is the one scripts/services starts.

SET 'execution.checkpointing.interval' = '1 s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'pipeline.name' = 'kafka-exactly-once';

CREATE TABLE words (
    line STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'words',
    'properties.bootstrap.servers' = '127.0.0.1:19092',
    'properties.group.id' = 'kafka-exactly-once',
    'properties.isolation.level' = 'read_committed',
    'scan.startup.mode' = 'earliest-offset',
    'value.format' = 'raw'
);

CREATE TABLE words_upper (
    line STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'words-upper',
    'properties.bootstrap.servers' = '127.0.0.1:19092',
    'properties.transaction.timeout.ms' = '900000',
    'value.format' = 'raw',
    'sink.delivery-guarantee' = 'exactly-once',
    'sink.transactional-id-prefix' = 'kafka-exactly-once-words-upper'
);

INSERT INTO words_upper
SELECT UPPER(line) AS line FROM words;
