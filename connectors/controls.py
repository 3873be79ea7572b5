"""The SOC 2 control catalog and an organization's own control IDs mapped onto it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from connectors.errors import ConfigError

_ORDER = re.compile(r"^(CC|PI|A|C|P)(\d+)\.(\d+)$")
_SERIES = {"CC": 0, "A": 1, "C": 2, "PI": 3, "P": 4}


@cache
def criteria() -> Mapping[str, str]:
    """Every Trust Services Criterion ID with its short title."""
    raw = resources.files("connectors").joinpath("soc2_criteria.json").read_text("utf-8")
    data: dict[str, str] = json.loads(raw)["criteria"]
    return dict(sorted(data.items(), key=lambda kv: criterion_sort_key(kv[0])))


def criterion_sort_key(cid: str) -> tuple[int, int, int]:
    """Order criteria as the TSC document does (CC1.1 < CC1.2 < ... < P8.1)."""
    m = _ORDER.match(cid)
    if not m:
        return (99, 0, 0)
    return (_SERIES[m.group(1)], int(m.group(2)), int(m.group(3)))


def is_criterion(cid: str) -> bool:
    """Whether `cid` is a known Trust Services Criterion ID."""
    return cid in criteria()


def check_criteria(ids: Iterable[str], *, where: str) -> tuple[str, ...]:
    """Return `ids` if each is a known criterion; else ConfigError naming the first unknown."""
    out = tuple(ids)
    for cid in out:
        if not is_criterion(cid):
            raise ConfigError(f"{where}: unknown SOC 2 criterion {cid!r}",
                              hint="use IDs such as CC6.1; `evidence controls` lists them")
    return out


@dataclass(frozen=True)
class ControlCatalog:
    """The criteria plus the organization's own control IDs (each mapped to criteria)."""

    custom: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, control_id: str) -> tuple[str, ...]:
        """Criteria that `control_id` stands for; raises ConfigError when it is unknown."""
        if is_criterion(control_id):
            return (control_id,)
        if control_id in self.custom:
            return self.custom[control_id]
        raise ConfigError(f"unknown control ID {control_id!r}",
                          hint="use a SOC 2 criterion (CC6.1) or a control mapped in [controls]")

    def custom_for(self, criterion: str) -> tuple[str, ...]:
        """The organization's control IDs that map onto `criterion`."""
        return tuple(k for k, v in self.custom.items() if criterion in v)
