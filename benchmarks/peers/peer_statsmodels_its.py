"""Per-area interrupted time series as a plain statsmodels loop (the baseline for a batched ITS).

Run by ``run.py`` with the peers' virtualenv::

    python benchmarks/peers/peer_statsmodels_its.py --case its --data PANEL.parquet --out RESULT.json

For every area (``areas`` parameter: the first N, default all), two fits of the same design
``const, t, level, slope, sin/cos of 2 harmonics`` (``level`` = 1 from the interruption on,
``slope`` = months since it counted from 1; the interruption is the area's cohort, or mid-window
for never-treated areas):

* OLS of the rate with Newey-West (HAC) standard errors, lags ``floor(4 (T/100)^(2/9))``
  (``cov_type="HAC"``, statsmodels' default small-sample correction);
* Poisson GLM of the count with offset ``log(population)``.

This is what an analyst writes without a batched estimator; ``ours.py --case its`` fits the same
models with ``evaluate.estimators.its_batch``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import Case, child_main, fourier, newey_west_lags

warnings.filterwarnings("ignore")
COLUMNS = ["area_code", "t", "cohort", "population", "nonfatal_overdoses", "nonfatal_overdoses_rate"]


def design(t: np.ndarray, start: float) -> np.ndarray:
    """``const, t, level, slope, sin1, cos1, sin2, cos2`` for one series.

    Parameters
    ----------
    t
        Months 1..T.
    start
        First month of the intervention.

    Returns
    -------
    numpy.ndarray
        ``T x 8``.
    """
    post = (t >= start).astype(float)
    return np.column_stack([np.ones(len(t)), t, post, (t - start + 1) * post, fourier(t)])


def its(data: pd.DataFrame | None, params: Mapping[str, str]) -> dict[str, Any]:
    """One OLS + HAC and one Poisson GLM per area.

    Parameters
    ----------
    data
        The panel.
    params
        ``areas``: how many areas (default all); ``models``: ``ols,poisson`` (default) or
        ``poisson`` (the Poisson GLM alone).

    Returns
    -------
    dict
        ``level_ols``, ``level_ols_se``, ``level_poisson`` (lists, one value per area), ``series``.
    """
    import statsmodels.api as sm

    assert data is not None
    d = data.sort_values(["area_code", "t"])
    n_t = int(d["t"].max())
    lags = newey_west_lags(n_t)
    level_ols, level_se, level_pois = [], [], []
    limit = int(params.get("areas", "0")) or None
    ols_too = "ols" in params.get("models", "ols,poisson").split(",")
    for i, (_, g) in enumerate(d.groupby("area_code", sort=True, observed=True)):
        if limit is not None and i >= limit:
            break
        t = g["t"].to_numpy(float)
        cohort = float(g["cohort"].iloc[0])
        start = cohort if np.isfinite(cohort) else float(n_t // 2 + 1)
        x = design(t, start)
        if ols_too:
            ols = sm.OLS(g["nonfatal_overdoses_rate"].to_numpy(float), x).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
            level_ols.append(float(ols.params[2]))
            level_se.append(float(ols.bse[2]))
        glm = sm.GLM(g["nonfatal_overdoses"].to_numpy(float), x, family=sm.families.Poisson(),
                     offset=np.log(g["population"].to_numpy(float))).fit()
        level_pois.append(float(glm.params[2]))
    out: dict[str, Any] = {"level_poisson": level_pois, "series": len(level_pois)}
    if ols_too:
        out.update(level_ols=level_ols, level_ols_se=level_se)
    return out


CASES: dict[str, Case] = {"its": Case(COLUMNS, its, lambda: __import__("statsmodels.api"))}

if __name__ == "__main__":
    sys.exit(child_main(CASES))
