"""Poisson pseudo-maximum-likelihood DiD for counts, with area and period effects.

:math:`E[y_{it}] = \\exp(\\alpha_i + \\lambda_t + \\beta D_{it} + \\log P_{it})`: a Poisson
regression with unit and period indicators, the treatment indicator, and ``log(population)`` as
an offset, so :math:`e^{\\beta}` is the rate ratio of the treated periods. Poisson PML is
consistent for the mean whatever the variance (Santos Silva & Tenreyro 2006), so standard errors
are cluster-robust by unit (CR1: G/(G-1) (N-1)/(N-K)). Fitted by statsmodels' GLM with the
indicators; units whose outcome is zero in every period carry no information about the effects
and are left out (and counted), as ``fixest::fepois`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluate.errors import AnalysisError
from evaluate.estimators.did_twfe import _prepare
from evaluate.results.effect import EffectResult, RowAccounting

__all__ = ["poisson_did"]


def poisson_did(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    unit: str = "area_code",
    time: str = "t",
    population: str | None = None,
    covariates: Sequence[str] = (),
    ci_level: float = 0.95,
    analysis: str = "did",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit_label: str = "all areas",
) -> EffectResult:
    """Poisson PML with unit and period effects and a population offset.

    Returns
    -------
    EffectResult
        ``level_change`` (the coefficient, log scale) and ``rate_ratio`` (its exponential).
    """
    import statsmodels.api as sm

    extra = [treatment, *covariates, *([population] if population else [])]
    d, rows = _prepare(data, outcome, unit, time, extra)
    if (d[outcome] < 0).any():
        raise AnalysisError(f"did: '{outcome}' has negative values; Poisson needs counts")
    if population is not None and not (d[population] > 0).all():
        raise AnalysisError(f"did: '{population}' must be positive for the offset")
    all_zero = d.groupby(unit)[outcome].transform("sum") == 0
    dropped = dict(rows.dropped)
    if all_zero.any():
        dropped["units with no events in any period"] = int(all_zero.sum())
        d = d[~all_zero]
    units = pd.get_dummies(d[unit].astype(str), prefix="u", drop_first=True, dtype=float)
    times = pd.get_dummies(d[time].astype(str), prefix="t", drop_first=True, dtype=float)
    x = pd.concat([d[[treatment, *covariates]].astype(float), units, times], axis=1)
    x.insert(0, "const", 1.0)
    offset = np.log(d[population].to_numpy(dtype=float)) if population else None
    glm = sm.GLM(d[outcome].to_numpy(dtype=float), x.to_numpy(), family=sm.families.Poisson(), offset=offset)
    groups = pd.factorize(d[unit])[0]
    res = glm.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    j = 1
    b, se = float(res.params[j]), float(res.bse[j])
    q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    p = float(2 * stats.norm.sf(abs(b / se))) if se > 0 else np.nan
    base = {"n_obs": len(d), "n_areas": d[unit].nunique(), "n_periods": d[time].nunique(), "p_value": p}
    estimates = pd.DataFrame([
        {"estimand": "level_change", "estimate": b, "std_error": se, "ci_lower": b - q * se, "ci_upper": b + q * se,
         "note": "Poisson PML coefficient on treatment (log rate ratio)", **base},
        {"estimand": "rate_ratio", "estimate": np.exp(b), "std_error": np.exp(b) * se, "ci_lower": np.exp(b - q * se),
         "ci_upper": np.exp(b + q * se), "note": "exp(coefficient): rate ratio of treated periods", **base},
    ])
    n_clusters = d[unit].nunique()
    return EffectResult(
        analysis=analysis, method="did", estimator="poisson", outcome=outcome, outcome_role=outcome_role,
        outcome_label=outcome_label or outcome, intervention=intervention, estimates=estimates,
        ci_level=ci_level, se_type=f"CR1 clustered by unit ({n_clusters} clusters; G/(G-1) (N-1)/(N-K))",
        rows=RowAccounting(rows.n_input, len(d), dropped),
        diagnostics={"coefficient": b, "clusters": int(n_clusters), "offset": population},
        model=res, unit=unit_label,
    )
