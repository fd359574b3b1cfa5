import pytest

import planner
from catalog import Catalog

BID_DDL = """
CREATE TABLE Bid (
    bidtime TIMESTAMP(3),
    price DECIMAL(10, 2),
    item STRING,
    supplier_id STRING,
    WATERMARK FOR bidtime AS bidtime - INTERVAL '1' SECOND
) WITH ('connector' = 'filesystem', 'path' = '/tmp/bids.json', 'format' = 'json');

CREATE TABLE clicks (
    user_id BIGINT,
    url STRING,
    info ROW<country STRING, device STRING>,
    ts TIMESTAMP(3),
    proc AS PROCTIME(),
    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'datagen');

CREATE TABLE plain (k INT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'datagen', 'number-of-rows' = '10');

CREATE TABLE out_print (a STRING, b BIGINT) WITH ('connector' = 'print');
CREATE TABLE out_file (a STRING, b BIGINT) WITH (
    'connector' = 'filesystem', 'path' = '/tmp/o', 'format' = 'csv');
CREATE TABLE out_upsert (a STRING, b BIGINT, PRIMARY KEY (a) NOT ENFORCED) WITH (
    'connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'localhost:9092',
    'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE out_kafka (a STRING, b BIGINT) WITH (
    'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = 'localhost:9092',
    'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once',
    'sink.transactional-id-prefix' = 'out-kafka');
"""


def catalog_of(ddl: str) -> Catalog:
    """A catalog holding the tables that ``ddl`` creates."""
    cat = Catalog()
    for statement in planner.parse(ddl):
        cat.create(planner.create_table(statement, cat))
    return cat


@pytest.fixture
def catalog() -> Catalog:
    return catalog_of(BID_DDL)
