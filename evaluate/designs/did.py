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

__all__ = ["Grid", "WidePanel", "dense_grid", "row_groups", "run_starts", "sorted_codes", "time_labels", "wide_panel"]


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


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` (codes and sorted distinct values as a NumPy array),
    without hashing in the two common layouts of a long panel (codes then as int32 when they fit).

    Integer columns (a period index) are coded through a lookup table over their range. Rows
    grouped by value in increasing order (a panel sorted by area) are coded from the positions
    where the value changes. Anything else, and any column with missing values, goes to
    :func:`pandas.factorize`.

    Parameters
    ----------
    values
        The column.

    Returns
    -------
    codes, uniques
        Integer codes into ``uniques``.
    """
    n = len(values)
    dtype = values.dtype
    if n and isinstance(dtype, np.dtype) and dtype.kind in "iu":
        v = values.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < 4 * n + 1024:
            offset = v.astype(_index_type(hi - lo + 1))
            offset -= lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            uniques = (np.flatnonzero(present) + lo).astype(dtype)
            if present.all():  # consecutive values: the offsets are the codes
                return offset, uniques
            return (np.cumsum(present) - 1)[offset], uniques
    else:
        starts = run_starts(values)
        if starts is not None and 2 * (len(starts) - 1) < n:  # runs of at least two rows on average
            firsts = _increasing_firsts(values, starts)
            if firsts is not None:
                lengths = np.diff(np.concatenate([starts, [n]]))
                return np.repeat(np.arange(len(starts), dtype=_index_type(len(starts))), lengths), firsts
    codes, uniques = pd.factorize(values, sort=True)
    return codes, np.asarray(uniques)


def _index_type(size: int) -> type[np.signedinteger]:
    """The smallest of int32 and int64 that holds ``size`` (codes of a long panel's columns)."""
    return np.int32 if size < 2**31 - 1 else np.int64


def run_starts(values: pd.Series) -> np.ndarray | None:
    """The first row of each run of equal consecutive values of a column, or ``None`` for a
    column with missing values, a categorical, or a dtype without a cheap comparison.

    Parameters
    ----------
    values
        The column (e.g. a long panel's area codes, listed area by area).

    Returns
    -------
    numpy.ndarray or None
        Row positions, starting with 0.
    """
    if len(values) < 2 or isinstance(values.dtype, pd.CategoricalDtype) or values.hasnans:
        return None
    change = _changes(values)
    return None if change is None else np.concatenate([[0], np.flatnonzero(change) + 1])


def _increasing_firsts(values: pd.Series, starts: np.ndarray) -> np.ndarray | None:
    """The values at ``starts`` if they increase strictly (as a NumPy array), else ``None``."""
    pa_array = getattr(values.array, "_pa_array", None)
    firsts = _arrow_take(pa_array, starts) if pa_array is not None else np.asarray(values.to_numpy()[starts])
    try:
        return firsts if bool(np.all(firsts[1:] > firsts[:-1])) else None
    except TypeError:  # values that do not compare (mixed types)
        return None


def _changes(values: pd.Series) -> np.ndarray | None:
    """``values[1:] != values[:-1]`` as a boolean array (Arrow compute for Arrow-backed strings)."""
    arr = values.array
    pa_array = getattr(arr, "_pa_array", None)
    if pa_array is not None:
        import pyarrow.compute as pc

        return np.asarray(pc.not_equal(pa_array[1:], pa_array[:-1]).to_numpy(zero_copy_only=False), dtype=bool)
    v = values.to_numpy()
    if v.dtype.kind in "OUSfmMb":
        return np.asarray(v[1:] != v[:-1], dtype=bool)
    return None


def _sorted_balanced(units: pd.Series, times: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``(units, periods)`` if the rows are sorted by unit and then period with exactly one row
    per unit and period (the usual layout of a long panel), else ``None``.

    Checks the unit column's runs (all the same length, values increasing) and that every run
    has the same strictly increasing periods, without coding either column.
    """
    n = len(units)
    t = times.to_numpy() if isinstance(times.dtype, np.dtype) and times.dtype.kind in "iuf" else None
    starts = None if t is None else run_starts(units)
    if starts is None:
        return None
    length = n // len(starts)
    if length * len(starts) != n or not np.all(np.diff(starts) == length):
        return None
    grid = t.reshape(len(starts), length)
    first = grid[0]
    if not (np.all(first[1:] > first[:-1]) and bool((grid == first).all())):
        return None
    firsts = _increasing_firsts(units, starts)
    return None if firsts is None else (firsts, first.copy())


def _arrow_take(array: object, positions: np.ndarray) -> np.ndarray:
    """Values of an Arrow (chunked) array at sorted ``positions``, as a NumPy object array
    (chunk by chunk: ``ChunkedArray.take`` is much slower)."""
    chunks = getattr(array, "chunks", [array])
    out = []
    at = 0
    for chunk in chunks:
        lo, hi = np.searchsorted(positions, [at, at + len(chunk)])
        if hi > lo:
            out.append(np.asarray(chunk.take(positions[lo:hi] - at).to_numpy(zero_copy_only=False), dtype=object))
        at += len(chunk)
    return np.concatenate(out) if out else np.zeros(0, dtype=object)


def _floats(column: pd.Series) -> np.ndarray:
    """A column as float64 (non-numeric values become NaN)."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiub":
        return column.to_numpy(dtype=float)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


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
    y = _floats(data[outcome])
    layout = _sorted_balanced(data[unit], data[time])
    flat = None
    if layout is not None:  # rows in unit, period order, one per cell: no codes needed
        units, times = layout
        n_u, n_t = len(units), len(times)
    else:
        unit_codes, units = sorted_codes(data[unit])
        time_codes, times = sorted_codes(data[time])
        n_u, n_t = len(units), len(times)
        flat = unit_codes.astype(np.int64) * n_t + time_codes  # each row's cell
    in_order = flat is None
    if flat is None:
        ymat = y.reshape(n_u, n_t)  # may share memory with ``data``: read-only
        ymat.flags.writeable = False
    else:
        if np.bincount(flat, minlength=n_u * n_t).max() > 1:
            raise AnalysisError("did: more than one row per unit and period; aggregate the data first")
        ymat = np.full(n_u * n_t, np.nan)
        ymat[flat] = y
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
    if in_order:
        first_row = np.arange(n_u) * n_t
    else:
        first_row = np.full(n_u, -1, dtype=np.int64)
        first_row[unit_codes[::-1]] = np.arange(len(unit_codes))[::-1]  # first row of each unit
    gv = _floats(data[cohort])[first_row][keep]
    gv = np.where(np.isnan(gv) | (gv == 0), np.inf, gv)
    x = None
    if covariates:
        layers = []
        cells = flat if flat is not None else slice(None)
        for c in covariates:
            m = np.full(n_u * n_t, np.nan)
            m[cells] = _floats(data[c])
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
