-- Every DDL and catalog statement.   sqlstream run examples/ddl.sql

CREATE TABLE orders (
    order_id    BIGINT,
    customer    ROW<name STRING, country STRING>,
    tags        ARRAY<STRING>,
    attributes  MAP<STRING, STRING>,
    amount      DECIMAL(12, 2) NOT NULL,
    order_time  TIMESTAMP(3),
    kafka_ts    TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
    `partition` INT METADATA VIRTUAL,
    amount_cents AS CAST(amount * 100 AS BIGINT),
    proc_time   AS PROCTIME(),
    WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND,
    PRIMARY KEY (order_id) NOT ENFORCED
) COMMENT 'orders as they arrive'
WITH (
    'connector' = 'kafka',
    'topic' = 'orders',
    'properties.bootstrap.servers' = 'localhost:9092',
    'properties.group.id' = 'examples',
    'scan.startup.mode' = 'earliest-offset',
    'format' = 'json'
);

CREATE TEMPORARY TABLE IF NOT EXISTS big_orders (
    order_id BIGINT,
    country  STRING,
    amount   DECIMAL(12, 2)
) WITH ('connector' = 'print', 'print-identifier' = 'big');

CREATE VIEW german_orders AS
SELECT order_id, customer.name AS name, amount FROM orders WHERE customer.country = 'DE';

ALTER TABLE orders SET ('scan.startup.mode' = 'latest-offset');
ALTER TABLE orders RESET ('properties.group.id');
ALTER TABLE orders ADD (note STRING COMMENT 'free text' AFTER amount, shipped BOOLEAN);
ALTER TABLE orders MODIFY note VARCHAR(200);
ALTER TABLE orders RENAME shipped TO delivered;
ALTER TABLE orders DROP (note, delivered);

SHOW TABLES;
SHOW VIEWS;
DESCRIBE orders;
SHOW CREATE TABLE orders;
SHOW CREATE VIEW german_orders;

SET 'parallelism.default' = '2';
SET 'pipeline.name' = 'ddl-example';
RESET 'pipeline.name';

EXPLAIN INSERT INTO big_orders
SELECT order_id, customer.country, amount FROM orders WHERE amount > 1000;

DROP VIEW german_orders;
DROP TEMPORARY TABLE big_orders;
DROP TABLE IF EXISTS orders;
