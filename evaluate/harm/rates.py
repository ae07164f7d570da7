"""Rates per population (per 100,000 residents by default)."""

from __future__ import annotations

import numpy as np

from evaluate.data.dictionary import OUTCOME_ROLES
from evaluate.data.join import Panel

__all__ = ["add_rates", "rate_column"]


def rate_column(variable: str) -> str:
    """Name of the rate column of a count variable: ``<variable>_rate``."""
    return f"{variable}_rate"


def add_rates(panel: Panel, *, population: str = "population", per: float = 100_000) -> list[str]:
    """Add ``<variable>_rate`` = count / population x ``per`` for every outcome count.

    Rates are missing wherever the count is missing or suppressed, or the population is missing;
    they are never computed from a suppressed cell's range.

    Parameters
    ----------
    panel
        The panel; columns are added in place and described in ``panel.derived``.
    population
        Denominator variable.
    per
        Rate multiplier.

    Returns
    -------
    list of str
        The rate columns added (empty if the panel has no population).
    """
    if population not in panel.data.columns:
        panel.report.notes.append(
            f"no '{population}' variable in this panel, so no rates were derived; add a source "
            "with entity population to get rates per 100,000"
        )
        return []
    pop = panel.data[population].to_numpy(dtype=float)
    pop = np.where(pop > 0, pop, np.nan)
    added = []
    per_text = f"{per:,.0f}"
    for name, v in panel.variables.items():
        if not v.is_count or v.role not in OUTCOME_ROLES:
            continue
        col = rate_column(name)
        panel.data[col] = panel.data[name].to_numpy(dtype=float) / pop * per
        panel.derived[col] = f"{v.label} per {per_text} residents per {panel.frequency.replace('_', ' ')}"
        panel.outcomes[col] = (v.role, f"{v.label} per {per_text} residents")
        added.append(col)
    return added
