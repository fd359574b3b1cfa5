-- sqlstream quickstart: a stream of orders, summed per product every 10 seconds of
-- event time, printed as each window closes. Needs no external service.
--
--   ./scripts/quickstart            (or: sqlstream run examples/quickstart.sql)

-- 200,000 generated orders from 2026-01-01 00:00 UTC on; order ids count up, and each order happens 5 ms after the
-- previous one, so the stream covers 1,000 seconds of event time.
CREATE TABLE orders (
    order_id   BIGINT,
    product_id INT,
    price      DOUBLE,
    order_time AS TO_TIMESTAMP_LTZ(1767225600000 + order_id * 5, 3),
    WATERMARK FOR order_time AS order_time - INTERVAL '1' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '200000',
    'rows-per-second' = '1000000',
    'fields.order_id.kind' = 'sequence',
    'fields.order_id.start' = '0',
    'fields.order_id.end' = '199999',
    'fields.product_id.min' = '1',
    'fields.product_id.max' = '3',
    'fields.price.min' = '1',
    'fields.price.max' = '100'
);

CREATE TABLE revenue (
    window_start TIMESTAMP(3),
    window_end   TIMESTAMP(3),
    product_id   INT,
    orders       BIGINT,
    revenue      DOUBLE
) WITH (
    'connector' = 'print',
    'print-identifier' = 'revenue'
);

-- Every 100 seconds of event time, per product: how many orders, how much revenue.
INSERT INTO revenue
SELECT window_start, window_end, product_id, COUNT(*), ROUND(SUM(price), 2)
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '100' SECONDS))
GROUP BY window_start, window_end, product_id;
