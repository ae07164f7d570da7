"""Goodman-Bacon (2021) decomposition of the two-way fixed effects DiD estimate.

With staggered adoption of an absorbing binary treatment in a balanced panel, the TWFE
coefficient is a weighted average of every 2x2 DiD between timing groups:

* **treated vs untreated**: cohort ``k`` against never-treated units, over the whole panel;
* **earlier vs later treated**: ``k`` (earlier) against ``l`` (not yet treated), before ``l``
  adopts;
* **later vs earlier treated**: ``l`` against ``k`` (already treated), after ``k`` adopts. These
  "forbidden" comparisons use treated units as controls and bias TWFE when effects change over
  time.

With group shares :math:`n_k`, treated-period shares :math:`\\bar D_k` and
:math:`\\hat V^D` the variance of the two-way demeaned treatment (Theorem 1):

.. math::

    s_{kU} = \\frac{(n_k+n_U)^2\\, n_{kU}(1-n_{kU})\\, \\bar D_k (1-\\bar D_k)}{\\hat V^D}, \\quad
    s^k_{k\\ell} = \\frac{((n_k+n_\\ell)(1-\\bar D_\\ell))^2 n_{k\\ell}(1-n_{k\\ell})
        \\frac{\\bar D_k-\\bar D_\\ell}{1-\\bar D_\\ell}\\frac{1-\\bar D_k}{1-\\bar D_\\ell}}{\\hat V^D},

    s^\\ell_{k\\ell} = \\frac{((n_k+n_\\ell)\\bar D_k)^2 n_{k\\ell}(1-n_{k\\ell})
        \\frac{\\bar D_\\ell}{\\bar D_k}\\frac{\\bar D_k-\\bar D_\\ell}{\\bar D_k}}{\\hat V^D},

which sum to one, and :math:`\\sum s\\,\\hat\\beta = \\hat\\beta^{DD}`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluate.designs.did import dense_grid
from evaluate.errors import AnalysisError

__all__ = ["bacon_decomposition", "COMPARISON_TYPES"]

COMPARISON_TYPES = ("Earlier vs Later Treated", "Later vs Earlier Treated", "Treated vs Untreated")


def _did(mt: np.ndarray, mc: np.ndarray, post: np.ndarray) -> float:
    """2x2 DiD of means from the two groups' per-period means (``post``: the treated group's post
    periods). In a balanced panel every period has the same units, so the mean over units and
    periods is the mean of the per-period means."""
    return float((mt[post].mean() - mt[~post].mean()) - (mc[post].mean() - mc[~post].mean()))


def bacon_decomposition(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    unit: str = "area_code",
    time: str = "t",
) -> pd.DataFrame:
    """Every 2x2 comparison, its weight and estimate, for the TWFE DiD of ``outcome`` on ``treatment``.

    Parameters
    ----------
    data
        Balanced long panel with a 0/1 absorbing treatment.
    outcome, treatment, unit, time
        Columns.

    Returns
    -------
    pandas.DataFrame
        One row per 2x2 comparison: ``type`` (one of :data:`COMPARISON_TYPES`), ``treated``
        and ``control`` timing groups, ``estimate``, ``weight``. Weights sum to one and the
        weighted estimates sum to the TWFE coefficient.
    """
    grid = dense_grid(data, unit, time, [outcome, treatment])
    ym, dm = grid.values[outcome], grid.values[treatment]
    if np.isnan(ym).any() or np.isnan(dm).any():
        raise AnalysisError("bacon: the decomposition needs a balanced panel with no missing outcomes")
    if np.any(np.diff(dm, axis=1) < 0) or not np.isin(dm, [0.0, 1.0]).all():
        raise AnalysisError("bacon: the treatment must be 0/1 and absorbing (once treated, always treated)")
    n_t = ym.shape[1]
    first = np.where(dm.any(axis=1), dm.argmax(axis=1), n_t)  # index of the first treated period; n_t = never
    groups = np.unique(first)
    share = {g: float((first == g).mean()) for g in groups}
    dbar = {g: float((n_t - g) / n_t) if g < n_t else 0.0 for g in groups}
    dd = dm - dm.mean(axis=1, keepdims=True) - dm.mean(axis=0, keepdims=True) + dm.mean()
    vd = float((dd**2).mean())
    times = grid.times
    label = {g: ("never" if g == n_t else str(times[g])) for g in groups}

    rows = []
    treated_groups = [g for g in groups if g < n_t]
    idx = np.arange(n_t)
    means = {g: ym[first == g].mean(axis=0) for g in groups}  # timing group x period
    if n_t in groups:
        for k in treated_groups:
            nk, nu = share[k], share[n_t]
            nku = nk / (nk + nu)
            w = (nk + nu) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / vd
            rows.append(("Treated vs Untreated", label[k], label[n_t], _did(means[k], means[n_t], idx >= k), w))
    for a, k in enumerate(treated_groups):
        for ell in treated_groups[a + 1:]:
            nk, nl = share[k], share[ell]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[ell]
            if k > 0:  # k vs l before l adopts (needs periods before k adopts)
                cols = idx < ell
                w = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * ((dk - dl) / (1 - dl)) * ((1 - dk) / (1 - dl)) / vd
                est = _did(means[k][cols], means[ell][cols], idx[cols] >= k)
                rows.append(("Earlier vs Later Treated", label[k], label[ell], est, w))
            cols = idx >= k
            w = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk) / vd
            est = _did(means[ell][cols], means[k][cols], idx[cols] >= ell)
            rows.append(("Later vs Earlier Treated", label[ell], label[k], est, w))
    out = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    return out
