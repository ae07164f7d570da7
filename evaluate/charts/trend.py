"""Trend chart: treated and comparison groups over time (describe and DiD analyses).

Each group's series is built from the panel as a total: for ``<count>_rate`` outcomes the rate
of the group's total (total count over total population, never an average of area rates, which
would weight a small area like a large one), for counts the total, for other columns the mean
over areas. A period is drawn only when every area of the group has a value in it (a partial sum
would look like a fall). Intervention starts are marked by vertical lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import PALETTE, SERIES_STYLES, new_axes, period_ticks, wrap

__all__ = ["trend_data", "plot_trend", "trend_alt"]


def trend_data(
    panel_data: pd.DataFrame,
    *,
    outcome: str,
    groups: Mapping[str, Sequence[str]],
    count: str | None = None,
    population: str | None = None,
    per: float = 100_000,
) -> pd.DataFrame:
    """Group series of one outcome by period.

    Parameters
    ----------
    panel_data
        Panel rows (``area_code``, ``period`` as pandas Periods, the columns).
    outcome
        Column to show.
    groups
        Group label -> its area codes (e.g. ``{"Treated areas": [...], "Comparison areas": [...]}``).
    count
        The count the outcome is built on (``outcome`` itself for a count, the base of a rate),
        or ``None`` if it is not a count.
    population
        Population column, for rates of totals.
    per
        Rate multiplier.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``period`` (label), ``time`` (period ordinal), ``value``, ``count`` (the
        group's total count behind the value, missing for non-counts), ``n_areas``,
        ``suppressed`` (False; disclosure control sets it).
    """
    if outcome not in panel_data.columns:
        raise KeyError(f"trend_data: column '{outcome}' not in the panel")
    frames = []
    base = outcome.removesuffix("_rate")
    for label, areas in groups.items():
        rows = panel_data[panel_data["area_code"].isin(list(areas))]
        if rows.empty:
            continue
        n = rows["area_code"].nunique()
        by = rows.groupby("period", sort=True)
        complete = (by.size() == n).to_numpy()

        def total(col: str, by: Any = by, rows: pd.DataFrame = rows, complete: np.ndarray = complete) -> np.ndarray:
            v = rows[col].astype(float)
            sums = v.groupby(rows["period"], sort=True).sum(min_count=1).to_numpy()
            gaps = v.isna().groupby(rows["period"], sort=True).any().to_numpy()
            return np.where(gaps | ~complete, np.nan, sums)

        counts = total(count) if count else np.full(len(complete), np.nan)
        if outcome.endswith("_rate") and population and base in rows.columns:
            value = total(base) / total(population) * per
        elif count == outcome:
            value = counts
        else:
            value = np.where(complete, by[outcome].mean().to_numpy(dtype=float), np.nan)
        periods = pd.PeriodIndex(list(by.groups.keys()))
        frames.append(pd.DataFrame({
            "group": label,
            "period": periods.astype(str),
            "time": periods.asi8.astype(float),
            "value": value,
            "count": counts,
            "n_areas": n,
            "suppressed": False,
        }))
    if not frames:
        return pd.DataFrame(columns=["group", "period", "time", "value", "count", "n_areas", "suppressed"])
    return pd.concat(frames, ignore_index=True)


def plot_trend(
    data: pd.DataFrame,
    *,
    ax: Any = None,
    starts: Sequence[tuple[float, str]] = (),
    ylabel: str = "",
    title: str = "",
) -> Any:
    """Draw group series from :func:`trend_data`.

    Parameters
    ----------
    data
        Chart data (points marked ``suppressed`` are not drawn).
    ax
        Axes to draw on; a new figure by default.
    starts
        ``(time, label)`` of intervention starts (period ordinals, as in ``data["time"]``).
    ylabel, title
        Axis label and title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = new_axes(ax)
    n_sup = 0
    for k, (label, g) in enumerate(data.groupby("group", sort=False)):
        st = SERIES_STYLES[k % len(SERIES_STYLES)]
        v = g["value"].to_numpy(dtype=float).copy()
        sup = g["suppressed"].to_numpy(dtype=bool)
        n_sup += int(sup.sum())
        v[sup] = np.nan
        t = g["time"].to_numpy(dtype=float)
        # break the line where periods are missing (e.g. excluded phase-in periods)
        full = np.arange(t.min(), t.max() + 1) if len(t) else t
        v = pd.Series(v, index=t).reindex(full).to_numpy(dtype=float)
        n = int(g["n_areas"].iloc[0])
        ax.plot(full, v, color=st["color"], linestyle=st["linestyle"], marker=st["marker"], markersize=3.5,
                markevery=max(1, len(full) // 18), linewidth=1.5, label=f"{label} ({n} area{'s' if n != 1 else ''})")
    for k, (x, text) in enumerate(starts):
        ax.axvline(x - 0.5, color=PALETTE["black"], linestyle=(0, (4, 2)), linewidth=0.9)
        if k < 6:
            ax.annotate(text, xy=(x - 0.5, 1.0 - 0.06 * k), xycoords=("data", "axes fraction"), xytext=(3, -2),
                        textcoords="offset points", fontsize=7.5, va="top")
    if n_sup:
        ax.text(0.01, 0.02, f"{n_sup} points suppressed (small counts)", transform=ax.transAxes, fontsize=8)
    first = data.drop_duplicates("time").sort_values("time")
    ticks, labels = period_ticks(first["time"].tolist(), first["period"].tolist())
    ax.set_xticks(ticks, labels)
    ax.set_ylabel(wrap(ylabel, 45))
    ax.set_xlabel("Period")
    ax.set_title(wrap(title, 75), loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, fontsize=8)
    return fig


def trend_alt(data: pd.DataFrame, *, outcome_label: str, starts: Sequence[tuple[float, str]] = ()) -> str:
    """Alt text for :func:`plot_trend`: each group's first and last value."""
    parts = []
    for label, g in data.groupby("group", sort=False):
        v = g.loc[~g["suppressed"].astype(bool) & np.isfinite(g["value"].astype(float))]
        if len(v):
            parts.append(f"{label} from {v['value'].iloc[0]:,.3g} in {v['period'].iloc[0]} to "
                         f"{v['value'].iloc[-1]:,.3g} in {v['period'].iloc[-1]}")
        else:
            parts.append(f"{label}: no values shown")
    text = f"Line chart of {outcome_label} over time by group: " + "; ".join(parts) + "."
    if starts:
        text += " Vertical lines mark intervention starts: " + ", ".join(s for _, s in starts[:8])
        text += (", ..." if len(starts) > 8 else "") + "."
    n_sup = int(data["suppressed"].sum())
    if n_sup:
        text += f" {n_sup} points are suppressed because they rest on small counts."
    return text
