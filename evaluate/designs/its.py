"""Design matrices of segmented regression for interrupted time series.

For a series observed at times ``time`` (1, 2, ... by default) with interruptions at times
``s_1 < s_2 < ...``, the mean model is

.. math::

    g(\\mu_t) = \\beta_0 + \\beta_1 \\, time_t
        + \\sum_k \\left(\\delta_k \\, step_{k,t} + \\gamma_k \\, since_{k,t}\\right)
        + \\text{season}_t + \\text{covariates}_t \\; [+ \\log(\\text{population}_t)]

with ``step_k = 1{time >= s_k}`` (the level change) and ``since_k = (time - s_k + 1) step_k``,
the periods since the interruption counted from 1 in its first period (the slope change; the
convention of Wagner et al. 2002 and of Lopez Bernal, Cummins & Gasparrini 2017). Seasonality is
either Fourier pairs ``sin(2 pi j m / P)``, ``cos(2 pi j m / P)`` for ``j = 1..K`` (all sines,
then all cosines, as ``tsModel::harmonic``) of the season position ``m`` (the calendar month,
quarter or week), or one indicator per season (the first season is the reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Interruption",
    "SEASON_LENGTH",
    "season_position",
    "fourier_terms",
    "season_dummies",
    "its_design",
    "term_names",
]

SEASON_LENGTH = {"week": 52.1775, "month": 12, "quarter": 4, "year": None, "financial_year": None}
"""Seasonal period per frequency (weeks: 365.25 / 7)."""


@dataclass(frozen=True)
class Interruption:
    """One interruption of the series.

    Attributes
    ----------
    time
        Value of the time variable at the first period of the new segment.
    label
        Text used in estimand notes (usually the period label).
    slope_change
        Whether the interruption also changes the slope.
    """

    time: float
    label: str
    slope_change: bool = True


def term_names(k: int, n: int) -> tuple[str, str]:
    """Column names of interruption ``k`` (1-based) of ``n``: ``step``/``since`` or ``step_2``..."""
    suffix = "" if k == 1 else f"_{k}"
    return f"step{suffix}", f"since{suffix}"


def season_position(periods: pd.Series) -> np.ndarray:
    """The position of each period within its year: month (1-12), quarter (1-4) or ISO week."""
    idx = pd.PeriodIndex(periods)
    code = idx.freqstr.split("-")[0]
    if code.startswith("M"):
        return idx.month.to_numpy()
    if code.startswith("Q"):
        return idx.quarter.to_numpy()
    if code.startswith("W"):
        return idx.start_time.isocalendar().week.to_numpy(dtype=float)
    raise ValueError(f"no seasonal position for frequency {idx.freqstr}")


def fourier_terms(position: np.ndarray, period: float, harmonics: int) -> pd.DataFrame:
    """Fourier pairs of a seasonal position: ``sin1..sinK`` then ``cos1..cosK``.

    For an even integer period ``P`` the harmonic ``K = P/2`` has a sine that is zero at every
    integer position (quarters: ``sin(pi q)``), so that column is left out.
    """
    x = 2 * np.pi * np.asarray(position, dtype=float) / period
    nyquist = float(period).is_integer() and int(period) % 2 == 0 and harmonics >= int(period) // 2
    cols = {
        f"sin{j}": np.sin(j * x)
        for j in range(1, harmonics + 1)
        if not (nyquist and j == int(period) // 2)
    }
    cols.update({f"cos{j}": np.cos(j * x) for j in range(1, harmonics + 1)})
    return pd.DataFrame(cols)


def season_dummies(position: np.ndarray, n_seasons: int) -> pd.DataFrame:
    """One indicator per season except the first (the reference)."""
    pos = np.asarray(position).astype(int)
    return pd.DataFrame({f"season{s}": (pos == s).astype(float) for s in range(2, n_seasons + 1)})


def its_design(
    time: np.ndarray,
    interruptions: Sequence[Interruption],
    *,
    season: pd.DataFrame | None = None,
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build the segmented-regression design matrix.

    Parameters
    ----------
    time
        The time variable (increasing).
    interruptions
        Interruptions in time order.
    season
        Seasonal columns (from :func:`fourier_terms` or :func:`season_dummies`), or ``None``.
    covariates
        Further columns, or ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``const``, ``time``, then per interruption ``step[_k]`` and (if a slope change
        is modelled) ``since[_k]``, then seasonal and covariate columns.
    """
    t = np.asarray(time, dtype=float)
    cols: dict[str, np.ndarray] = {"const": np.ones(len(t)), "time": t}
    for k, intr in enumerate(interruptions, start=1):
        step_name, since_name = term_names(k, len(interruptions))
        step = (t >= intr.time).astype(float)
        cols[step_name] = step
        if intr.slope_change:
            cols[since_name] = (t - intr.time + 1) * step
    design = pd.DataFrame(cols)
    for extra in (season, covariates):
        if extra is not None and not extra.empty:
            design = pd.concat([design, extra.reset_index(drop=True)], axis=1)
    return design
