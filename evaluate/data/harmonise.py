"""Moving series between frequencies without inventing values.

Three rules, chosen by the variable's ``aggregation`` in the data dictionary:

``sum`` (flows: counts of events)
    Each source period's value is spread evenly over its days and summed into the target periods
    its days fall in. A week that straddles two months gives each month its share of the seven
    days; a month falls wholly inside one quarter. Totals are preserved exactly. Target periods
    that the source does not cover day for day are *incomplete*: they keep their partial sum in
    :func:`apportion` but :func:`to_frequency` blanks them (and counts them) rather than publish an
    undercount.
``mean`` (rates, proportions, scores)
    The day-weighted mean of the source periods overlapping the target period.
``stock`` (population)
    Linear interpolation in time between the source's observations, each placed at the midpoint
    of its period (a mid-year estimate at the middle of the year), evaluated at the midpoint of
    each target period; held flat beyond the first and last observation (counted as
    extrapolated).

A source is never disaggregated: a quarterly count cannot become three monthly counts. Such a
source stays at its own frequency and is joined in a panel at that frequency (see
:mod:`evaluate.data.join`). Suppression travels with the values: a target cell that draws on a
suppressed cell is missing and flagged, with its range the sum (or mean) of the parts' ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluate.data.dictionary import Variable
from evaluate.data.periods import FREQUENCY_ORDER, PANDAS_FREQ, days_in, period_label

__all__ = [
    "HarmoniseNote",
    "can_aggregate",
    "apportion",
    "to_frequency",
    "interpolate_stock",
]


@dataclass
class HarmoniseNote:
    """What harmonisation did to one source."""

    source: str
    from_frequency: str
    to_frequency: str
    method: str
    rows_in: int
    rows_out: int
    incomplete_periods: int = 0
    incomplete_examples: list[str] = field(default_factory=list)
    extrapolated_cells: int = 0


def can_aggregate(source: str, target: str) -> bool:
    """True if every ``source`` period lies within at most two ``target`` periods and ``target``
    is at least as coarse (so values are only ever summed or averaged, never split up)."""
    if source == target:
        return True
    if {source, target} == {"year", "financial_year"}:
        return False
    return FREQUENCY_ORDER[source] < FREQUENCY_ORDER[target]


def _day_spans(periods: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    idx = pd.PeriodIndex(periods)
    start = idx.start_time.normalize().to_numpy().astype("datetime64[D]")
    end = idx.end_time.normalize().to_numpy().astype("datetime64[D]")
    return start, end


def apportion(
    frame: pd.DataFrame,
    value_columns: list[str],
    target: str,
    *,
    how: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Apportion area x period values into ``target`` periods by days.

    Parameters
    ----------
    frame
        Columns ``area_code``, ``period`` (pandas Periods) and the value columns.
    value_columns
        Columns to carry. Boolean columns are combined with *any*.
    target
        Target frequency name (``month``, ``quarter``, ...).
    how
        ``"sum"`` (default) or ``"mean"`` per column.

    Returns
    -------
    pandas.DataFrame
        ``area_code``, ``period`` (target), the value columns, ``__days`` (days of the target
        period covered by source rows) and ``__coverage`` (``__days`` over the period's length).
        A value is NaN when any contributing value is NaN. Partial sums of incomplete periods are
        kept, so totals are preserved.
    """
    how = how or {}
    tfreq = PANDAS_FREQ[target]
    start, end = _day_spans(frame["period"])
    total = (end - start).astype(np.int64) + 1
    t1 = pd.PeriodIndex(pd.DatetimeIndex(start).to_period(tfreq))
    t2 = pd.PeriodIndex(pd.DatetimeIndex(end).to_period(tfreq))
    span = t2.asi8 - t1.asi8
    if (span > 1).any():
        raise ValueError("source periods are longer than two target periods; cannot apportion")
    first_end = np.minimum(end, t1.end_time.normalize().to_numpy().astype("datetime64[D]"))
    d1 = (first_end - start).astype(np.int64) + 1
    d2 = total - d1

    keep1 = d1 > 0
    keep2 = (d2 > 0) & (span == 1)
    rows = np.concatenate([np.flatnonzero(keep1), np.flatnonzero(keep2)])
    ords = np.concatenate([t1.asi8[keep1], t2.asi8[keep2]])
    days = np.concatenate([d1[keep1], d2[keep2]]).astype(float)
    weight = days / np.concatenate([total[keep1], total[keep2]])

    # one integer key per (area, target period); np.bincount sums each column by key, and a NaN
    # among a key's parts makes its sum NaN, which is the rule: any missing part -> missing
    area_id, area_names = pd.factorize(frame["area_code"], use_na_sentinel=True)
    base = int(ords.min()) if len(ords) else 0
    width = int(ords.max()) - base + 1 if len(ords) else 1
    key = area_id[rows].astype(np.int64) * width + (ords - base)
    uniq, inv = np.unique(key, return_inverse=True)
    n = len(uniq)
    covered = np.bincount(inv, weights=days, minlength=n)
    columns: dict[str, np.ndarray] = {}
    for c in value_columns:
        col = frame[c].to_numpy()
        if col.dtype == bool:
            columns[c] = np.bincount(inv, weights=col[rows].astype(float), minlength=n) > 0
            continue
        x = col.astype(float)[rows]
        if how.get(c, "sum") == "mean":
            columns[c] = np.bincount(inv, weights=x * days, minlength=n) / covered
        else:
            columns[c] = np.bincount(inv, weights=x * weight, minlength=n)
    periods = pd.PeriodIndex.from_ordinals(uniq % width + base, freq=tfreq)
    out = pd.DataFrame(
        {
            "area_code": pd.Series(np.asarray(area_names, dtype=object)[uniq // width], dtype="string"),
            "period": periods,
            **columns,
            "__days": covered,
        }
    )
    out["__coverage"] = out["__days"] / days_in(periods)
    return out[["area_code", "period", *value_columns, "__days", "__coverage"]]



def to_frequency(
    frame: pd.DataFrame,
    variables: list[Variable],
    *,
    source: str,
    source_frequency: str,
    target: str,
) -> tuple[pd.DataFrame, HarmoniseNote]:
    """Convert a parsed source's flows and means to ``target``; blank incomplete periods.

    Parameters
    ----------
    frame
        A parsed source frame (``area_code``, ``period``, values and suppression columns).
    variables
        The source's variables (all with aggregation ``sum`` or ``mean``).
    source
        Source name, for the note.
    source_frequency, target
        Frequency names.

    Returns
    -------
    frame, note
        The converted frame, with a boolean ``__complete`` column (False where the source did not
        cover the whole target period, whose values are blanked), and what was done.
    """
    frame = frame.drop(columns=[c for c in ("area_name",) if c in frame.columns])
    value_cols = [c for c in frame.columns if c not in ("area_code", "period")]
    if source_frequency == target:
        note = HarmoniseNote(source, source_frequency, target, "none (same frequency)", len(frame), len(frame))
        return frame.assign(__complete=True), note
    if not can_aggregate(source_frequency, target):
        raise ValueError(f"cannot convert {source_frequency} to {target}")
    how: dict[str, str] = {}
    for v in variables:
        agg = "mean" if v.aggregation == "mean" else "sum"
        how[v.name] = agg
        for suffix in ("__lower", "__upper"):
            how[v.name + suffix] = agg
    out = apportion(frame, value_cols, target, how=how)
    incomplete = out["__coverage"] < 1 - 1e-9
    numeric = [c for c in value_cols if not c.endswith("__suppressed")]
    out.loc[incomplete, numeric] = np.nan
    examples = [
        f"{a} {period_label(p, target)} ({c:.0%} covered)"
        for a, p, c in out.loc[incomplete, ["area_code", "period", "__coverage"]].head(3).itertuples(index=False)
    ]
    method = (
        "weeks apportioned to the days of each period"
        if source_frequency == "week"
        else f"{source_frequency} values summed (flows) or day-weighted (means) into {target}"
    )
    note = HarmoniseNote(
        source=source,
        from_frequency=source_frequency,
        to_frequency=target,
        method=method,
        rows_in=len(frame),
        rows_out=int(len(out)),
        incomplete_periods=int(incomplete.sum()),
        incomplete_examples=examples,
    )
    out["__complete"] = ~incomplete
    return out.drop(columns=["__days", "__coverage"]), note


def interpolate_stock(
    frame: pd.DataFrame,
    column: str,
    *,
    areas: list[str],
    target_periods: pd.PeriodIndex,
) -> tuple[pd.DataFrame, int]:
    """Interpolate a stock (population) at the midpoints of ``target_periods``.

    Parameters
    ----------
    frame
        ``area_code``, ``period`` and ``column``; observations sit at their period's midpoint.
    column
        The stock variable.
    areas
        Areas to produce values for.
    target_periods
        The panel's periods.

    Returns
    -------
    frame, extrapolated
        ``area_code``, ``period``, ``column`` for every area x target period (NaN for an area
        with no observation), and the number of cells held flat beyond the observations.
    """
    src = frame.dropna(subset=[column])
    x_all = _midpoints(pd.PeriodIndex(src["period"]))
    y_all = src[column].to_numpy(dtype=float)
    codes = src["area_code"].to_numpy()
    mids = _midpoints(target_periods)
    n = len(target_periods)
    values = np.full((len(areas), n), np.nan)
    extrapolated = 0
    order = np.argsort(codes, kind="stable")
    uniq, starts = np.unique(codes[order], return_index=True)
    ends = np.append(starts[1:], len(order)).astype(int) if len(uniq) else np.zeros(0, dtype=int)
    bounds = {code: (int(a), int(b)) for code, a, b in zip(uniq, starts, ends, strict=True)}
    for i, area in enumerate(areas):
        if area not in bounds:
            continue
        lo, hi = bounds[area]
        idx = order[lo:hi]
        sort = np.argsort(x_all[idx])
        x, y = x_all[idx][sort], y_all[idx][sort]
        values[i] = np.interp(mids, x, y)
        extrapolated += int(((mids < x[0]) | (mids > x[-1])).sum())
    out = pd.DataFrame(
        {
            "area_code": np.repeat(np.asarray(areas, dtype=object), n),
            "period": pd.PeriodIndex.from_ordinals(
                np.tile(target_periods.asi8, len(areas)), freq=target_periods.freq
            ),
            column: values.ravel(),
        }
    )
    return out, extrapolated


def _midpoints(periods: pd.PeriodIndex) -> np.ndarray:
    """Period midpoints as float days since the epoch."""
    s = periods.start_time.to_numpy().astype("datetime64[s]").astype(np.int64)
    e = periods.end_time.to_numpy().astype("datetime64[s]").astype(np.int64)
    return (s + e) / 2 / 86400.0
