"""Wide (units x periods) panels for difference-in-differences estimators.

Staggered-adoption estimators work on one row per unit and one column per period: outcome
matrix ``y``, the unit's first treated period (``inf`` if never treated), optional baseline
covariates and weights. Building it checks the panel is balanced; an unbalanced panel is refused
with the number of gaps, or its incomplete units are dropped and counted when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluate.errors import AnalysisError

__all__ = ["WidePanel", "wide_panel", "time_labels"]


@dataclass
class WidePanel:
    """A balanced panel in wide form.

    Attributes
    ----------
    units
        Unit labels (n).
    times
        Sorted time values (T).
    y
        Outcomes, n x T.
    cohort
        First treated time value of each unit; ``inf`` for never treated.
    x
        Covariates, n x T x p (or ``None``).
    weights
        Unit weights (n), ones by default.
    dropped
        Units left out, by reason.
    """

    units: np.ndarray
    times: np.ndarray
    y: np.ndarray
    cohort: np.ndarray
    x: np.ndarray | None = None
    weights: np.ndarray | None = None
    covariate_names: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.units)


def time_labels(values: pd.Series) -> dict[object, str]:
    """Text labels of time values: period labels for pandas Periods, else ``str``."""
    uniques = pd.unique(values.dropna())
    if isinstance(values.dtype, pd.PeriodDtype):
        from evaluate.data.periods import frequency_of, period_label

        freq = frequency_of(values)
        return {p: period_label(p, freq) for p in uniques}
    return {v: (str(int(v)) if isinstance(v, float | np.floating) and float(v).is_integer() else str(v)) for v in uniques}


def wide_panel(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    weights: str | None = None,
    unbalanced: str = "refuse",
) -> WidePanel:
    """Pivot long panel data to a :class:`WidePanel`.

    Parameters
    ----------
    data
        One row per unit and period.
    outcome, unit, time
        Column names.
    cohort
        Column with the unit's first treated time (same scale as ``time``); missing, 0 or
        ``inf`` means never treated.
    covariates
        Covariate columns.
    weights
        Column of unit weights (constant within a unit), or ``None``.
    unbalanced
        ``"refuse"``: missing outcomes are an error; ``"drop_units"``: units with any missing
        outcome are left out (and counted).
    """
    for c in (outcome, unit, time, cohort, *covariates, *([weights] if weights else [])):
        if c not in data.columns:
            raise KeyError(f"did: column '{c}' not in the data")
    if data.duplicated([unit, time]).any():
        raise AnalysisError("did: more than one row per unit and period; aggregate the data first")
    times = np.sort(pd.unique(data[time].dropna()))
    y = data.pivot(index=unit, columns=time, values=outcome).reindex(columns=times)
    units = y.index.to_numpy()
    ymat = y.to_numpy(dtype=float)
    dropped: dict[str, int] = {}
    missing = np.isnan(ymat)
    if missing.any():
        bad = missing.any(axis=1)
        if unbalanced != "drop_units":
            raise AnalysisError(
                f"did: the panel is unbalanced: {int(missing.sum()):,} unit-periods of '{outcome}' "
                f"are missing (or suppressed) in {int(bad.sum()):,} units; set unbalanced: "
                "drop_units to leave those units out (they will be counted), or fill the gaps"
            )
        dropped["units with missing outcomes"] = int(bad.sum())
        keep = ~bad
        units, ymat = units[keep], ymat[keep]
    if len(units) == 0:
        raise AnalysisError("did: no unit has a complete series")
    g = data.groupby(unit, sort=False)[cohort].first().reindex(units)
    if isinstance(data[cohort].dtype, pd.PeriodDtype) or isinstance(data[time].dtype, pd.PeriodDtype):
        raise AnalysisError("did: pass time and cohort as numbers (e.g. the panel's t index)")
    gv = pd.to_numeric(g, errors="coerce").to_numpy(dtype=float)
    gv = np.where(np.isnan(gv) | (gv == 0), np.inf, gv)
    x = None
    if covariates:
        x = np.stack(
            [data.pivot(index=unit, columns=time, values=c).reindex(index=units, columns=times).to_numpy(dtype=float)
             for c in covariates],
            axis=2,
        )
        if np.isnan(x).any():
            raise AnalysisError(
                f"did: covariates {list(covariates)} have missing values; fill them or leave the "
                "covariate out"
            )
    w = None
    if weights:
        w = data.groupby(unit, sort=False)[weights].first().reindex(units).to_numpy(dtype=float)
    return WidePanel(units, times, ymat, gv, x, w, list(covariates), dropped)
