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

__all__ = ["Grid", "WidePanel", "dense_grid", "row_groups", "time_labels", "wide_panel"]


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


@dataclass
class Grid:
    """Columns of a long panel laid out as units x periods matrices (NaN where a cell has no row).

    Attributes
    ----------
    units, times
        Unit labels in order of first appearance and sorted period values.
    values
        One ``(units, periods)`` float matrix per column.
    complete
        Every unit has exactly one row in every period.
    """

    units: np.ndarray
    times: np.ndarray
    values: dict[str, np.ndarray]
    complete: bool


def dense_grid(data: pd.DataFrame, unit: str, time: str, columns: Sequence[str]) -> Grid:
    """Lay out ``columns`` of a long panel as units x periods matrices, in one vectorised step.

    Raises
    ------
    AnalysisError
        More than one row for a unit and period.
    """
    unit_codes, units = pd.factorize(data[unit])
    time_codes, times = pd.factorize(data[time], sort=True)
    n_u, n_t = len(units), len(times)
    flat = unit_codes.astype(np.int64) * n_t + time_codes
    counts = np.bincount(flat, minlength=n_u * n_t)
    if counts.max(initial=0) > 1:
        raise AnalysisError("did: more than one row per unit and period; aggregate the data first")
    values = {}
    for c in columns:
        m = np.full(n_u * n_t, np.nan)
        m[flat] = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
        values[c] = m.reshape(n_u, n_t)
    return Grid(np.asarray(units), np.asarray(times), values, bool(len(data) == n_u * n_t))


def row_groups(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a matrix and each row's index among them (NaN equals NaN).

    Rows are fingerprinted by two random projections and grouped by them, then every row is
    checked against its group's first row, so the result is exact (a sort of whole rows, as
    ``numpy.unique(axis=0)`` does, is much slower for wide matrices).

    Returns
    -------
    distinct, index
        ``(C, T)`` distinct rows (in order of first appearance) and ``(n,)`` the group of each row.
    """
    m = np.asarray(matrix, dtype=float)
    nan = np.isnan(m)
    filled = np.where(nan, 0.0, m)
    rng = np.random.default_rng(12345)
    proj = rng.standard_normal((m.shape[1], 2))
    keys = filled @ proj + nan @ rng.standard_normal((m.shape[1], 2))
    index, _ = pd.factorize(pd.MultiIndex.from_arrays([keys[:, 0], keys[:, 1]]))
    first = np.full(index.max(initial=-1) + 1, -1, dtype=np.int64)
    first[index[::-1]] = np.arange(len(index))[::-1]
    rep = m[first]
    same = (rep[index] == m) | (np.isnan(rep[index]) & nan)
    if not same.all():  # a fingerprint collision: fall back to the exact sort
        distinct, inverse = np.unique(np.where(nan, np.inf, m), axis=0, return_inverse=True)
        distinct = np.where(np.isinf(distinct), np.nan, distinct)
        return distinct, np.asarray(inverse).reshape(-1)
    return rep, index.astype(np.intp)


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
    unit_codes, units = pd.factorize(data[unit], sort=True)
    time_codes, times = pd.factorize(data[time], sort=True)
    units, times = np.asarray(units), np.asarray(times)
    n_u, n_t = len(units), len(times)
    flat = unit_codes.astype(np.int64) * n_t + time_codes
    if np.bincount(flat, minlength=n_u * n_t).max() > 1:
        raise AnalysisError("did: more than one row per unit and period; aggregate the data first")
    ymat = np.full(n_u * n_t, np.nan)
    ymat[flat] = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    ymat = ymat.reshape(n_u, n_t)
    dropped: dict[str, int] = {}
    missing = np.isnan(ymat)
    keep = np.ones(n_u, dtype=bool)
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
    if isinstance(data[cohort].dtype, pd.PeriodDtype) or isinstance(data[time].dtype, pd.PeriodDtype):
        raise AnalysisError("did: pass time and cohort as numbers (e.g. the panel's t index)")
    first_row = np.full(n_u, -1, dtype=np.int64)
    first_row[unit_codes[::-1]] = np.arange(len(unit_codes))[::-1]  # first row of each unit
    gv = pd.to_numeric(data[cohort], errors="coerce").to_numpy(dtype=float)[first_row][keep]
    gv = np.where(np.isnan(gv) | (gv == 0), np.inf, gv)
    x = None
    if covariates:
        layers = []
        for c in covariates:
            m = np.full(n_u * n_t, np.nan)
            m[flat] = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
            layers.append(m.reshape(n_u, n_t)[keep])
        x = np.stack(layers, axis=2)
        if np.isnan(x).any():
            raise AnalysisError(
                f"did: covariates {list(covariates)} have missing values; fill them or leave the "
                "covariate out"
            )
    w = None
    if weights:
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)[first_row][keep]
    return WidePanel(units, times, ymat, gv, x, w, list(covariates), dropped)
