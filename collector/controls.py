"""The control catalog lives in `connectors.controls` (below `collector/`); re-exported here."""

from connectors.controls import (
    ControlCatalog,
    check_criteria,
    criteria,
    criterion_sort_key,
    is_criterion,
)

__all__ = ["ControlCatalog", "check_criteria", "criteria", "criterion_sort_key", "is_criterion"]
