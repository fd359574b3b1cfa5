-- An unwindowed GROUP BY: its result changes as rows arrive, so it is an updating stream
-- (+I, -U, +U). Print shows every change; an append-only sink would be refused.
--   sqlstream run examples/updating_aggregate.sql

CREATE TABLE clicks (
    user_id INT,
    url     STRING
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '20',
    'sqlstream.seed' = '7',
    'fields.user_id.min' = '1',
    'fields.user_id.max' = '3',
    'fields.url.length' = '4'
);

CREATE TABLE clicks_per_user (
    user_id INT,
    clicks  BIGINT,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'print', 'print-identifier' = 'per-user');

INSERT INTO clicks_per_user
SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
