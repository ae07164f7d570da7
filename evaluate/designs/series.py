"""Single series for time-series designs: one area, or a sum over areas, by period.

A total over areas is missing in a period where any of its areas is missing (a partial sum would
look like a fall), and flagged suppressed where any part was suppressed. Rates are never summed:
the rate of a total is the total count over the total population (``<base>_rate`` columns are
rebuilt from their base column).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["unit_series"]


def unit_series(
    data: pd.DataFrame,
    *,
    areas: Sequence[str],
    columns: Sequence[str],
    population: str | None,
    per: float = 100_000,
) -> pd.DataFrame:
    """Sum ``columns`` over ``areas`` by period (or take one area's series).

    Parameters
    ----------
    data
        Panel rows with ``area_code``, ``period`` and the columns.
    areas
        Areas to combine.
    columns
        Value columns. A ``<base>_rate`` column whose ``<base>`` is in ``data`` is recomputed as
        sum(base) / sum(population) x ``per``.
    population
        Population column (summed), or ``None``.
    per
        Rate multiplier.

    Returns
    -------
    pandas.DataFrame
        One row per period: ``period``, the columns, ``<col>__suppressed`` where known, and the
        population.
    """
    rows = data[data["area_code"].isin(list(areas))]
    n_areas = rows["area_code"].nunique()
    out = pd.DataFrame({"period": pd.PeriodIndex(sorted(pd.unique(rows["period"])))})
    grouped = rows.groupby("period", sort=True)
    count = grouped.size().to_numpy()
    complete = count == n_areas

    def total(col: str) -> np.ndarray:
        values = rows[col].astype(float)
        sums = values.groupby(rows["period"], sort=True).sum(min_count=1).to_numpy()
        any_missing = values.isna().groupby(rows["period"], sort=True).any().to_numpy()
        return np.where(any_missing | ~complete, np.nan, sums)

    if population:
        out[population] = total(population)
    for col in columns:
        base = col.removesuffix("_rate")
        if col.endswith("_rate") and base in rows.columns and population:
            out[col] = total(base) / out[population].to_numpy() * per
            sup = f"{base}__suppressed"
        else:
            out[col] = total(col)
            sup = f"{col}__suppressed"
        if sup in rows.columns:
            out[f"{col}__suppressed"] = rows[sup].fillna(False).astype(bool).groupby(rows["period"], sort=True).any().to_numpy()
    return out
