"""The Kafka client's ``properties.*`` keys (the Java client's names) that sqlstream knows,
checked at CREATE TABLE: an unknown key, a serializer, a bad value or a malformed
``sasl.jaas.config`` is refused there, naming the key. ``runtime.connectors.kafka.options``
maps them to aiokafka's arguments.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from catalog.errors import OptionError, did_you_mean
from catalog.options import parse_bool, parse_int

_INT, _BOOL, _STR = "int", "bool", "str"

# Java key -> (aiokafka argument, type, which clients take it: "c" consumer, "p" producer).
SHARED: dict[str, tuple[str, str]] = {
    "bootstrap.servers": ("bootstrap_servers", _STR),
    "client.id": ("client_id", _STR),
    "request.timeout.ms": ("request_timeout_ms", _INT),
    "retry.backoff.ms": ("retry_backoff_ms", _INT),
    "metadata.max.age.ms": ("metadata_max_age_ms", _INT),
    "connections.max.idle.ms": ("connections_max_idle_ms", _INT),
    "security.protocol": ("security_protocol", _STR),
    "sasl.mechanism": ("sasl_mechanism", _STR),
    "sasl.kerberos.service.name": ("sasl_kerberos_service_name", _STR),
    "sasl.kerberos.domain.name": ("sasl_kerberos_domain_name", _STR),
}
CONSUMER: dict[str, tuple[str, str]] = {
    "group.id": ("group_id", _STR),
    "group.instance.id": ("group_instance_id", _STR),
    "isolation.level": ("isolation_level", _STR),
    "fetch.max.wait.ms": ("fetch_max_wait_ms", _INT),
    "fetch.min.bytes": ("fetch_min_bytes", _INT),
    "fetch.max.bytes": ("fetch_max_bytes", _INT),
    "max.partition.fetch.bytes": ("max_partition_fetch_bytes", _INT),
    "max.poll.records": ("max_poll_records", _INT),
    "session.timeout.ms": ("session_timeout_ms", _INT),
    "heartbeat.interval.ms": ("heartbeat_interval_ms", _INT),
    "max.poll.interval.ms": ("max_poll_interval_ms", _INT),
    "check.crcs": ("check_crcs", _BOOL),
    "client.rack": ("client_rack", _STR),
    "exclude.internal.topics": ("exclude_internal_topics", _BOOL),
}
PRODUCER: dict[str, tuple[str, str]] = {
    "acks": ("acks", _STR),
    "compression.type": ("compression_type", _STR),
    "linger.ms": ("linger_ms", _INT),
    "batch.size": ("max_batch_size", _INT),
    "max.request.size": ("max_request_size", _INT),
    "transaction.timeout.ms": ("transaction_timeout_ms", _INT),
    "enable.idempotence": ("enable_idempotence", _BOOL),
}
# Keys we read ourselves (or that the engine decides), not passed to the client as such.
_OURS = {
    "auto.offset.reset",  # group-offsets without a committed offset
    "enable.auto.commit",  # offsets are committed when a checkpoint completes
    "auto.commit.interval.ms",
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.key.password",
    "ssl.keystore.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.endpoint.identification.algorithm",
    "partition.discovery.interval.ms",
    "transactional.id",
}
_REFUSED = {
    "key.deserializer": "the key and value formats decode records ('key.format', 'value.format')",
    "value.deserializer": "the key and value formats decode records ('key.format', 'value.format')",
    "key.serializer": "the key and value formats encode records ('key.format', 'value.format')",
    "value.serializer": "the key and value formats encode records ('key.format', 'value.format')",
}
KNOWN_PROPERTIES = sorted({*SHARED, *CONSUMER, *PRODUCER, *_OURS})

_JAAS_VALUE = re.compile(r"""(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s;]+)""")


def parse_jaas(text: str, where: str) -> tuple[str | None, str | None]:
    """(username, password) from a ``sasl.jaas.config`` line, as Java's PlainLoginModule
    and ScramLoginModule read it.

    >>> parse_jaas('org.apache.kafka.common.security.plain.PlainLoginModule required '
    ...            'username="alice" password="s3;cr=t";', "t")
    ('alice', 's3;cr=t')
    """
    found: dict[str, str] = {}
    for key, raw in _JAAS_VALUE.findall(text):
        value = raw
        if raw[:1] in ("'", '"'):
            try:
                value = shlex.split(raw)[0]
            except ValueError:
                value = raw[1:-1]
        found[key.lower()] = value
    if "username" not in found and "password" not in found:
        raise OptionError(
            f"{where}: 'properties.sasl.jaas.config' names no username and password",
            hint='write it as Java does: \'... required username="user" password="secret";\'',
        )
    return found.get("username"), found.get("password")


def typed_property(key: str, value: str, kind: str) -> Any:
    if kind == _INT:
        return parse_int(value, "properties." + key)
    if kind == _BOOL:
        return parse_bool(value, "properties." + key)
    return value


def check_properties(props: Mapping[str, str], where: str) -> None:
    """Refuse a ``properties.*`` key (given without the prefix) that no client takes, one
    that cannot be set, or a value of the wrong type."""
    for key, value in props.items():
        if key in _REFUSED:
            raise OptionError(f"{where}: 'properties.{key}' cannot be set", hint=_REFUSED[key])
        if key not in SHARED and key not in CONSUMER and key not in PRODUCER and key not in _OURS:
            raise OptionError(
                f"{where}: unknown Kafka client property 'properties.{key}'",
                hint=(
                    (did_you_mean(key, KNOWN_PROPERTIES) or "")
                    + " (sqlstream maps the Java client's keys to aiokafka's; supported: "
                    + ", ".join(KNOWN_PROPERTIES)
                    + ")"
                ).strip(),
            )
        for table in (SHARED, CONSUMER, PRODUCER):
            if key in table:
                try:
                    typed_property(key, value, table[key][1])
                except OptionError as e:  # say which table
                    raise OptionError(f"{where}: {e.message}", hint=e.hint) from None
    level = props.get("isolation.level")
    if level is not None and level.lower() not in ("read_committed", "read_uncommitted"):
        raise OptionError(
            f"{where}: 'properties.isolation.level' = '{level.lower()}' is not read_committed or "
            "read_uncommitted"
        )
    jaas = props.get("sasl.jaas.config")
    if jaas:
        parse_jaas(jaas, where)
    for store in ("truststore", "keystore"):
        type_key = f"ssl.{store}.type"
        if props.get(f"ssl.{store}.location") and props.get(type_key, "PEM").upper() != "PEM":
            raise OptionError(
                f"{where}: 'properties.{type_key}' = '{props[type_key]}': only PEM files can be "
                "read from Python (a JKS or PKCS12 store cannot)",
                hint=f"convert the store to PEM (keytool/openssl) and set 'properties.{type_key}' = 'PEM'",
            )
