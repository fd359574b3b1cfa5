import pytest

from catalog.connectors import validate_options
from catalog.errors import OptionError
from catalog.options import OptionBag, parse_duration_ms


def test_misspelled_option_is_named_with_the_closest_valid_one() -> None:
    with pytest.raises(OptionError) as e:
        validate_options(
            {"connector": "kafka", "topc": "t", "properties.bootstrap.servers": "x"}, "table 'src'"
        )
    assert "unknown option 'topc'" in str(e.value)
    assert "did you mean 'topic'" in str(e.value)
    assert "table 'src'" in str(e.value)


def test_unknown_connector_suggests_a_known_one() -> None:
    with pytest.raises(OptionError) as e:
        validate_options({"connector": "datagn"}, "table 't'")
    assert "unknown connector 'datagn'" in str(e.value)
    assert "datagen" in str(e.value)


def test_missing_required_option_is_named() -> None:
    with pytest.raises(OptionError) as e:
        validate_options({"connector": "filesystem", "format": "json"}, "table 'f'")
    assert "'path'" in str(e.value)


def test_format_options_are_allowed_only_for_the_chosen_format() -> None:
    validate_options(
        {"connector": "filesystem", "path": "/tmp/x", "format": "json", "json.ignore-parse-errors": "true"},
        "t",
    )
    with pytest.raises(OptionError) as e:
        validate_options(
            {
                "connector": "filesystem",
                "path": "/tmp/x",
                "format": "csv",
                "json.ignore-parse-errors": "true",
            },
            "t",
        )
    assert "json.ignore-parse-errors" in str(e.value)


def test_field_pattern_options_and_bad_values() -> None:
    validate_options({"connector": "datagen", "fields.id.kind": "sequence", "fields.id.start": "1"}, "t")
    with pytest.raises(OptionError) as e:
        validate_options({"connector": "datagen", "fields.id.kind": "sequense"}, "t")
    assert "sequence" in str(e.value)
    with pytest.raises(OptionError) as e:
        validate_options({"connector": "datagen", "rows-per-second": "fast"}, "t")
    assert "'rows-per-second' = 'fast' is not an integer" in str(e.value)


def test_kafka_properties_pass_through() -> None:
    validate_options(
        {
            "connector": "kafka",
            "topic": "t",
            "properties.bootstrap.servers": "h:9092",
            "properties.sasl.mechanism": "PLAIN",
            "format": "json",
        },
        "t",
    )


@pytest.mark.parametrize(
    ("text", "ms"), [("10 s", 10_000), ("500ms", 500), ("1 min", 60_000), ("2h", 7_200_000), ("250", 250)]
)
def test_durations_in_flink_syntax(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


def test_option_bag_reports_leftover_keys() -> None:
    bag = OptionBag({"path": "/x", "formt": "json"}, "table 't'")
    assert bag.require("path") == "/x"
    with pytest.raises(OptionError) as e:
        bag.finish(["path", "format"])
    assert "unknown option 'formt'" in str(e.value) and "format" in str(e.value)
