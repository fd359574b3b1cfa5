-- Files in, files out: filter and reshape JSON bids into CSV.
--   sqlstream run examples/file_to_file.sql    (writes part files under out/cheap_bids/)

CREATE TABLE Bid (
    bidtime     TIMESTAMP(3),
    price       DECIMAL(10, 2),
    item        STRING,
    supplier_id STRING
) WITH ('connector' = 'filesystem', 'path' = 'examples/data/bids.json', 'format' = 'json');

CREATE TABLE cheap_bids (
    item      STRING,
    supplier  STRING,
    price_eur DECIMAL(10, 2),
    bid_hour  INT
) WITH ('connector' = 'filesystem', 'path' = 'out/cheap_bids', 'format' = 'csv');

INSERT INTO cheap_bids
SELECT UPPER(item), SPLIT_INDEX(supplier_id, 'r', 1), price * 0.9, CAST(EXTRACT(HOUR FROM bidtime) AS INT)
FROM Bid
WHERE price < 5 AND item IN ('A', 'B', 'C', 'E');
