"""Registry-wide checks: every registered connector, built-in or plugin, keeps the contract."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
from typing import Any

import pytest

from collector.controls import is_criterion
from connectors.base import Connector, ConnectorConfig, Finding
from connectors.registry import broken, registry
from tests.conftest import subprocess_env


def _all() -> list[type[Connector]]:
    return list(registry().values())


def test_every_entry_point_loads() -> None:
    """No registered connector fails to load, and the built-in ones are there."""
    assert broken() == {}
    assert "aws" in registry()


@pytest.mark.parametrize("cls", _all(), ids=lambda c: c.name)
def test_connector_declares_its_contract(cls: type[Connector]) -> None:
    """Name, config model, docstrings, snapshots with known criteria, permissions, max age."""
    assert cls.__doc__ and cls.__doc__.strip()
    assert issubclass(cls.config_model, ConnectorConfig)
    assert cls.config_model.model_config.get("extra") == "forbid"
    assert cls.config_model.model_config.get("frozen") is True
    assert cls.snapshots(), f"{cls.name} declares no snapshot"
    for spec in cls.snapshots().values():
        where = f"{cls.name}.{spec.name}"
        assert spec.doc, f"{where} has no docstring saying what it proves"
        assert spec.controls and all(is_criterion(c) for c in spec.controls), where
        assert spec.permissions, f"{where} declares no permission"
        assert spec.max_age.total_seconds() > 0, where
        assert spec.kind in ("posture", "population"), where
        assert spec.name.islower() and " " not in spec.name, where
    assert cls.permission_document().strip()


@pytest.mark.parametrize("cls", _all(), ids=lambda c: c.name)
def test_populations_declare_their_items(cls: type[Connector]) -> None:
    """Every population snapshot lists its items (stable id, ISO time) so it can be sampled."""
    from storage.queries import parse_time

    for spec in cls.snapshots().values():
        if spec.kind != "population":
            continue
        where = f"{cls.name}.{spec.name}"
        assert spec.items is not None, f"{where} declares no items() for sampling"
        assert spec.example is not None, f"{where} has no example content"
        items = spec.items(copy.deepcopy(spec.example))
        assert items, f"{where}: items(example) is empty"
        ids = [i["id"] for i in items]
        assert len(set(ids)) == len(ids) and all(isinstance(i, str) for i in ids), where
        for i in items:
            parse_time(str(i["time"]))


def _no_network(*_a: Any, **_k: Any) -> None:
    raise AssertionError("assess() opened a network connection")


@pytest.mark.parametrize("cls", _all(), ids=lambda c: c.name)
def test_assess_is_pure(cls: type[Connector], monkeypatch: pytest.MonkeyPatch) -> None:
    """assess() on the snapshot's example: deterministic, leaves its input alone, no I/O."""
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    for spec in cls.snapshots().values():
        if spec.assess is None:
            continue
        where = f"{cls.name}.{spec.name}"
        assert spec.example is not None, f"{where} has assess() but no example content"
        json.dumps(spec.example)  # the example is plain JSON, as stored content is
        before = copy.deepcopy(spec.example)
        first = spec.assess(spec.example)
        second = spec.assess(copy.deepcopy(spec.example))
        assert spec.example == before, f"{where}: assess() changed its input"
        assert first == second, f"{where}: assess() is not deterministic"
        assert first and all(isinstance(f, Finding) for f in first), where
        assert all(f.status in ("pass", "fail", "inconclusive") for f in first), where


def test_every_platform_package_is_a_registered_connector_with_a_stand_in() -> None:
    """Each package under connectors/ except the kit is a registered connector with a local
    stand-in under simulators/ (and its conformance test); the kit is a library, not one."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    packages = {p.name for p in (root / "connectors").iterdir() if (p / "__init__.py").exists()}
    built_in = {name for name, cls in registry().items()
                if cls.__module__.startswith("connectors.")}
    assert "kit" not in registry()
    assert packages - {"kit"} == built_in
    for name in sorted(built_in):
        assert list((root / "simulators").glob(f"{name}*.py")), f"{name}: no stand-in"
        assert (root / "tests" / f"test_{name}_conformance.py").exists(), name


def test_get_imports_only_the_connector_it_names() -> None:
    """Looking up one connector imports that connector alone, not every platform's SDK (a
    collection of `aws` must not pay for importing Google Cloud's and Azure's clients)."""
    code = ("import json, sys\n"
            "from connectors.registry import get\n"
            "assert get('aws').name == 'aws'\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.count('.') <= 1)))\n")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    loaded = set(json.loads(out))
    assert "connectors.aws" in loaded
    for other in ("connectors.gcp", "connectors.azure", "connectors.okta", "connectors.github",
                  "connectors.jira", "google", "azure", "okta", "github", "jira", "fieldwork",
                  "requests", "aiohttp", "alembic", "fastapi", "jsonschema"):
        assert other not in loaded, f"get('aws') imported {other}"


def test_unknown_connector_names_the_known_ones() -> None:
    """An unknown name is a ConfigError listing every registered connector."""
    from connectors.errors import ConfigError
    from connectors.registry import get

    with pytest.raises(ConfigError) as e:
        get("no-such-platform")
    assert "unknown connector 'no-such-platform'" in str(e.value)
    for name in ("aws", "gcp", "okta", "synthetic"):
        assert name in str(e.value)
