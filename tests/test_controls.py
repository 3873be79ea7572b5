"""The SOC 2 control catalog."""

from __future__ import annotations

import re

import pytest

from collector.controls import ControlCatalog, criteria, criterion_sort_key
from collector.errors import ConfigError


def test_catalog_has_every_trust_services_criterion() -> None:
    """The catalog lists CC1.1-CC9.2, A1.1-A1.3, C1.1-C1.2, PI1.1-PI1.5 and P1.1-P8.1."""
    ids = list(criteria())
    assert len(ids) == 61
    assert ids[0] == "CC1.1" and ids[-1] == "P8.1"
    for expected in ("CC6.8", "CC7.5", "CC8.1", "CC9.2", "A1.3", "C1.2", "PI1.5", "P6.7"):
        assert expected in ids
    assert all(re.fullmatch(r"(CC|A|C|PI|P)\d\.\d", i) for i in ids)
    assert all(criteria()[i] for i in ids)


def test_catalog_order_is_numeric() -> None:
    """Criteria sort as the TSC document orders them, not as strings."""
    assert criterion_sort_key("CC1.5") < criterion_sort_key("CC2.1")
    assert sorted(["P1.1", "CC9.1", "A1.1"], key=criterion_sort_key) == ["CC9.1", "A1.1", "P1.1"]


def test_custom_ids_resolve_to_criteria() -> None:
    """An organization's own control ID resolves to the criteria it maps onto."""
    cat = ControlCatalog({"ACME-AC-01": ("CC6.1", "CC6.2")})
    assert cat.resolve("ACME-AC-01") == ("CC6.1", "CC6.2")
    assert cat.resolve("CC7.2") == ("CC7.2",)
    assert cat.custom_for("CC6.2") == ("ACME-AC-01",)


def test_unknown_ids_are_rejected() -> None:
    """Unknown control IDs raise ConfigError naming the ID."""
    with pytest.raises(ConfigError, match=r"CC99\.1"):
        ControlCatalog().resolve("CC99.1")
