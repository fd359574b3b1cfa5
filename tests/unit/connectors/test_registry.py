"""The registry table and the catalog's specs describe the same connectors: every spec
has exactly one implementation with the capabilities it promises, and vice versa."""

from __future__ import annotations

import pytest

from catalog.connectors import CONNECTORS as SPECS
from catalog.errors import OptionError
from planner.physical import SinkSpec
from runtime.connectors.registry import CONNECTORS, TEST_CONNECTORS, create_sink, implementation

from .helpers import ctx, fields


def test_every_spec_has_an_implementation_and_every_implementation_a_spec() -> None:
    assert sorted(SPECS) == sorted(CONNECTORS)
    assert not set(TEST_CONNECTORS) & set(SPECS)  # a test connector is not a user's


@pytest.mark.parametrize("name", sorted(SPECS))
def test_implementation_has_exactly_the_capabilities_its_spec_promises(name: str) -> None:
    spec, impl = SPECS[name], implementation(name)
    assert impl is not None
    assert (impl.source is not None) == spec.source
    assert (impl.sink is not None) == spec.sink
    assert (impl.lookup is not None) == spec.lookup


def test_an_unknown_connector_is_refused_with_the_closest_name() -> None:
    spec = SinkSpec("t", "prnt", {}, fields("a INT"))
    with pytest.raises(OptionError, match="no sink implementation for connector 'prnt'") as e:
        create_sink(spec, ctx())
    assert e.value.hint == "did you mean 'print'?"
