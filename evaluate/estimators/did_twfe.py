"""Two-way fixed effects DiD and the TWFE event study (linearmodels ``PanelOLS``).

``twfe`` regresses the outcome on a treatment indicator with unit (area) and period effects,
:math:`y_{it} = \\alpha_i + \\lambda_t + \\beta D_{it} + X_{it}'\\gamma + \\varepsilon_{it}`;
``fixed_effects="group"`` replaces the unit effects by a treated-group indicator (the pooled 2x2
regression ``y ~ treated + period + treated:post``). ``event_study`` replaces ``D`` by indicators
of each period relative to adoption (the period before adoption, ``-1``, is the reference;
periods beyond ``window`` are binned into the endpoints) and tests the leads jointly.

Clustered standard errors default to CR1: the cluster-robust sandwich with the G/(G-1)
small-sample factor, as Stata and R's ``sandwich::vcovCL(type = "HC1")`` on the dummy-variable
regression (checked: castle doctrine TWFE, 0.0617535 in all three). With few clusters the wild
cluster bootstrap (:mod:`evaluate.estimators.wild`) is the better choice; ``did`` chooses it by
default below :data:`FEW_CLUSTERS` clusters.

TWFE is biased under staggered adoption with effects that change over time (it uses
already-treated units as comparisons); see :mod:`evaluate.estimators.bacon` and prefer
Callaway-Sant'Anna or Sun-Abraham there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from evaluate.errors import AnalysisError
from evaluate.results.effect import EffectResult, RowAccounting

__all__ = ["twfe", "event_study", "event_time_columns", "FEW_CLUSTERS", "cr1_note"]

FEW_CLUSTERS = 50
"""Below this many clusters, ``did`` uses the wild cluster bootstrap for TWFE and event studies
by default (Cameron, Gelbach & Miller 2008: cluster-robust t tests over-reject with few
clusters; MacKinnon & Webb 2017)."""

cr1_note = "CR1 clustered (G/(G-1) factor; equals Stata and R vcovCL(type='HC1'))"


def _prepare(
    data: pd.DataFrame, outcome: str, unit: str, time: str, extra: Sequence[str]
) -> tuple[pd.DataFrame, RowAccounting]:
    for c in (outcome, unit, time, *extra):
        if c not in data.columns:
            raise KeyError(f"did: column '{c}' not in the data")
    d = data[[unit, time, outcome, *[c for c in extra if c not in (unit, time, outcome)]]].copy()
    missing = d[outcome].isna()
    suppressed_col = f"{outcome}__suppressed"
    dropped: dict[str, int] = {}
    if suppressed_col in data.columns:
        sup = data[suppressed_col].fillna(False).to_numpy(dtype=bool) & missing.to_numpy()
        if sup.any():
            dropped["outcome suppressed"] = int(sup.sum())
        if (missing & ~sup).any():
            dropped["outcome missing"] = int((missing & ~sup).sum())
    elif missing.any():
        dropped["outcome missing"] = int(missing.sum())
    others = d[list(extra)].isna().any(axis=1) & ~missing if extra else pd.Series(False, index=d.index)
    if others.any():
        dropped["regressor missing"] = int(others.sum())
    d = d[~missing & ~others]
    return d, RowAccounting(len(data), len(d), dropped)


def _fit(
    d: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    regressors: list[str],
    *,
    fixed_effects: str,
    group: str | None,
    cluster: str | None,
    weights: str | None,
) -> Any:
    """Fit on rows: :func:`~evaluate.estimators.fe_ols.demeaned_fit`, or linearmodels for the
    group-effects regression and for regression weights."""
    if fixed_effects == "group" or weights:
        return _fit_linearmodels(d, outcome, unit, time, regressors, fixed_effects=fixed_effects, group=group,
                                 cluster=cluster, weights=weights)
    from evaluate.estimators.fe_ols import demeaned_fit

    codes = pd.factorize(d[cluster])[0] if cluster and cluster != unit else None
    return demeaned_fit(
        d[outcome].to_numpy(dtype=float), d[regressors].to_numpy(dtype=float),
        pd.factorize(d[unit])[0], pd.factorize(d[time])[0], regressors, cluster=codes,
    )


def _fit_collapsed(
    d: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    key: np.ndarray,
    build: Callable[[pd.Series, pd.Series], pd.DataFrame],
    *,
    cluster: str | None,
) -> Any:
    """The collapsed route of :mod:`~evaluate.estimators.fe_ols`, or ``None`` when it does not apply.

    ``key`` (one value per row; NaN allowed) determines the regressors together with the period:
    ``build(key, time)`` makes them for any rows. Units with the same key path form one group.
    Applies to a balanced panel with one row per unit and period, and clusters that nest units.
    """
    from evaluate.designs.did import dense_grid, row_groups
    from evaluate.estimators.fe_ols import collapsed_fit

    frame = pd.DataFrame({"u": d[unit].to_numpy(), "t": d[time].to_numpy(), "y": d[outcome].to_numpy(dtype=float),
                          "k": np.asarray(key, dtype=float)})
    grid = dense_grid(frame, "u", "t", ["y", "k"])
    if not grid.complete or len(grid.units) < 2:
        return None
    n_periods = len(grid.times)
    paths, group = row_groups(grid.values["k"])
    w = build(pd.Series(paths.ravel()), pd.Series(np.tile(grid.times, len(paths))))
    names = list(w.columns)
    w_arr = w.to_numpy(dtype=float).reshape(len(paths), n_periods, len(names))
    codes = None
    if cluster and cluster != unit:
        uc = pd.factorize(d[unit])[0]  # the grid's unit order (first appearance)
        per_unit = pd.Series(pd.factorize(d[cluster])[0]).groupby(uc).agg(["min", "max"])
        if (per_unit["min"] != per_unit["max"]).any():
            return None  # clusters cut across units: the row route handles it
        codes = per_unit["min"].sort_index().to_numpy()
    return collapsed_fit(grid.values["y"], group, w_arr, names, cluster=codes)


def _fit_linearmodels(
    d: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    regressors: list[str],
    *,
    fixed_effects: str,
    group: str | None,
    cluster: str | None,
    weights: str | None,
) -> Any:
    """linearmodels ``PanelOLS``: the reference implementation, and the route for group effects
    and regression weights."""
    from linearmodels.panel import PanelOLS

    panel = d.set_index([unit, time])
    exog = panel[regressors].astype(float)
    if fixed_effects == "group":
        exog = exog.assign(__group=panel[group].astype(float), __const=1.0)
    clusters = panel[[cluster]] if cluster and cluster != unit else None
    model = PanelOLS(
        panel[outcome].astype(float),
        exog,
        entity_effects=fixed_effects == "unit",
        time_effects=True,
        weights=panel[weights] if weights else None,
        drop_absorbed=True,
        check_rank=False,
    )
    if clusters is not None:
        return model.fit(cov_type="clustered", clusters=clusters, group_debias=True)
    return model.fit(cov_type="clustered", cluster_entity=True, group_debias=True)


def twfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    unit: str = "area_code",
    time: str = "t",
    covariates: Sequence[str] = (),
    fixed_effects: Literal["unit", "group"] = "unit",
    group: str | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    ci_level: float = 0.95,
    analysis: str = "did",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit_label: str = "all areas",
) -> EffectResult:
    """Two-way fixed effects DiD: the coefficient on the treatment indicator.

    Parameters
    ----------
    data
        Long panel.
    outcome, treatment
        Outcome column and 0/1 treatment column (treated and post).
    unit, time
        Panel keys.
    covariates
        Time-varying controls.
    fixed_effects
        ``unit``: unit and period effects. ``group``: a treated-group indicator and period
        effects (the pooled 2x2 regression, which uses units observed in only one period).
    group
        The 0/1 treated-group column when ``fixed_effects="group"``.
    cluster
        Cluster column (default: the unit).
    weights
        Regression weights column.

    Returns
    -------
    EffectResult
        Estimand ``att`` (the TWFE coefficient); ``model`` is the linearmodels result.
    """
    if fixed_effects == "group" and group is None:
        raise ValueError("did: fixed_effects='group' needs group=<treated-group column>")
    extra = [treatment, *covariates, *(c for c in (group, cluster, weights) if c)]
    d, rows = _prepare(data, outcome, unit, time, extra)
    res = None
    if not covariates and fixed_effects == "unit" and not weights:
        res = _fit_collapsed(d, outcome, unit, time, d[treatment].to_numpy(dtype=float),
                             lambda k, _t: pd.DataFrame({treatment: k.to_numpy()}), cluster=cluster)
    if res is None:
        res = _fit(d, outcome, unit, time, [treatment, *covariates], fixed_effects=fixed_effects,
                   group=group, cluster=cluster, weights=weights)
    if treatment not in res.params.index:
        raise AnalysisError(
            f"did: the treatment '{treatment}' does not vary within areas over time once area and "
            "period effects are removed, so TWFE cannot estimate it; check the intervention's dates"
        )
    n_clusters = d[cluster or unit].nunique()
    est, se = float(res.params[treatment]), float(res.std_errors[treatment])
    q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    estimates = pd.DataFrame([{
        "estimand": "att",
        "estimate": est,
        "std_error": se,
        "ci_lower": est - q * se,
        "ci_upper": est + q * se,
        "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
        "n_obs": len(d),
        "n_areas": d[unit].nunique(),
        "n_periods": d[time].nunique(),
        "note": "TWFE coefficient on treatment" + (" (group and period effects)" if fixed_effects == "group" else ""),
    }])
    warnings = []
    if n_clusters < FEW_CLUSTERS:
        warnings.append(
            f"only {n_clusters} clusters: cluster-robust standard errors are unreliable; use the "
            "wild cluster bootstrap (se: wild)"
        )
    return EffectResult(
        analysis=analysis, method="did", estimator="twfe", outcome=outcome, outcome_role=outcome_role,
        outcome_label=outcome_label or outcome, intervention=intervention, estimates=estimates,
        ci_level=ci_level, se_type=f"{cr1_note}, {n_clusters} clusters", rows=rows,
        diagnostics={"clusters": int(n_clusters), "fixed_effects": fixed_effects,
                     "coefficients": {k: float(v) for k, v in res.params.items()}},
        warnings=tuple(warnings), model=res, unit=unit_label,
    )


def event_time_columns(
    event_time: pd.Series, *, window: tuple[int, int], reference: int = -1
) -> pd.DataFrame:
    """Indicators of event time (binned beyond ``window``), omitting the reference period.

    Units never treated (missing event time) have every indicator 0. Column ``e-3`` is event
    time -3; the endpoints ``e-6`` (with ``window=(-6, 6)``) hold every event time at or below
    -6 and ``e6`` every one at or above 6.
    """
    lo, hi = window
    e = pd.to_numeric(event_time, errors="coerce")
    binned = e.clip(lower=lo, upper=hi)
    cols = {}
    for k in range(lo, hi + 1):
        if k == reference:
            continue
        cols[f"e{k}"] = (binned == k).astype(float).to_numpy()
    return pd.DataFrame(cols, index=event_time.index)


def event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    event_time: str,
    unit: str = "area_code",
    time: str = "t",
    window: tuple[int, int] | None = None,
    reference: int = -1,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    weights: str | None = None,
    ci_level: float = 0.95,
    analysis: str = "did",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit_label: str = "all areas",
) -> EffectResult:
    """TWFE event study with binned endpoints and a joint test of the leads.

    Parameters
    ----------
    data
        Long panel with ``event_time`` = period minus adoption period (missing if never treated).
    window
        ``(lowest lead, highest lag)``; by default the observed range, capped at (-12, 12).
    reference
        Omitted event time (the period before adoption).

    Returns
    -------
    EffectResult
        Estimands ``att_e<k>`` for each event time in the window but the reference; the
        diagnostics hold the Wald test of the leads (``pretrend``).
    """
    e = pd.to_numeric(data[event_time], errors="coerce")
    if not e.notna().any():
        raise AnalysisError("did: no treated unit: an event study needs units that adopt")
    if window is None:
        window = (max(int(e.min()), -12), min(int(e.max()), 12))
    if not (window[0] <= reference < window[1]):
        raise AnalysisError(f"did: the reference event time {reference} is outside the window {window}")
    extra = [*covariates, *(c for c in (cluster, weights) if c)]
    d, rows = _prepare(data, outcome, unit, time, extra)
    e_used = e.loc[d.index]

    def build(ev: pd.Series, _t: pd.Series) -> pd.DataFrame:
        return event_time_columns(ev, window=window, reference=reference)

    res = None
    if not covariates and not weights:
        res = _fit_collapsed(d, outcome, unit, time, e_used.to_numpy(dtype=float), build, cluster=cluster)
    if res is None:
        dummies = event_time_columns(e_used, window=window, reference=reference)
        nonzero = [c for c in dummies.columns if dummies[c].any()]
        frame = pd.concat([d.drop(columns=[c for c in nonzero if c in d.columns]), dummies[nonzero]], axis=1)
        res = _fit(frame, outcome, unit, time, [*nonzero, *covariates], fixed_effects="unit", group=None,
                   cluster=cluster, weights=weights)
    keep = [c for c in event_time_columns(pd.Series([0.0]), window=window, reference=reference).columns
            if c in res.params.index]
    if not keep:
        raise AnalysisError("did: no event-time effect can be estimated (every indicator is absorbed)")
    q = stats.norm.ppf(1 - (1 - ci_level) / 2)
    recs = []
    for c in keep:
        est, se = float(res.params[c]), float(res.std_errors[c])
        k = int(c[1:])
        binned = " (binned endpoint)" if k in window and k != reference else ""
        recs.append({
            "estimand": f"att_e{k}", "estimate": est, "std_error": se,
            "ci_lower": est - q * se, "ci_upper": est + q * se,
            "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
            "n_obs": len(d), "n_areas": d[unit].nunique(), "n_periods": d[time].nunique(),
            "note": f"TWFE event-time effect relative to e={reference}{binned}",
        })
    estimates = pd.DataFrame(recs)
    leads = [c for c in keep if int(c[1:]) < reference]
    pretrend: dict[str, Any] = {"leads": len(leads)}
    if leads:
        b = res.params[leads].to_numpy()
        v = res.cov.loc[leads, leads].to_numpy()
        stat = float(b @ np.linalg.solve(v, b))
        pretrend.update(statistic=stat, df=len(leads), p_value=float(stats.chi2.sf(stat, len(leads))))
    warnings = []
    if pretrend.get("p_value", 1) < 0.05:
        warnings.append(f"pre-trends: the leads are jointly different from zero (Wald p = {pretrend['p_value']:.3f})")
    n_clusters = d[cluster or unit].nunique()
    plot = estimates.assign(event_time=[int(s.removeprefix("att_e")) for s in estimates["estimand"]])
    ref_row = pd.DataFrame([{"estimand": f"att_e{reference}", "estimate": 0.0, "std_error": 0.0, "ci_lower": 0.0,
                             "ci_upper": 0.0, "event_time": reference, "note": "reference period"}])
    plot = pd.concat([plot, ref_row], ignore_index=True).sort_values("event_time").reset_index(drop=True)
    return EffectResult(
        analysis=analysis, method="did", estimator="event_study", outcome=outcome, outcome_role=outcome_role,
        outcome_label=outcome_label or outcome, intervention=intervention, estimates=estimates,
        ci_level=ci_level, se_type=f"{cr1_note}, {n_clusters} clusters", rows=rows,
        diagnostics={"pretrend": pretrend, "window": list(window), "reference": reference, "clusters": int(n_clusters)},
        warnings=tuple(warnings), model=res, plot_data={"event_study": plot}, unit=unit_label,
    )
