"""``did()``: one entry point for the difference-in-differences estimators.

=====================  ===============================================================
``callaway_santanna``  staggered adoption with effects that vary by cohort and time
                       (:mod:`~evaluate.estimators.did_cs`)
``twfe``               two-way fixed effects (with the Goodman-Bacon decomposition when
                       adoption is staggered) (:mod:`~evaluate.estimators.did_twfe`)
``event_study``        TWFE leads and lags with a joint pre-trend test
``sun_abraham``        interaction-weighted event study (:mod:`~evaluate.estimators.did_sa`)
``poisson``            Poisson PML for counts with a population offset
                       (:mod:`~evaluate.estimators.did_poisson`)
=====================  ===============================================================

With fewer than :data:`~evaluate.estimators.did_twfe.FEW_CLUSTERS` clusters, ``se="auto"``
replaces the TWFE and event-study clustered standard errors by the wild cluster bootstrap
(:mod:`~evaluate.estimators.wild`) and says so in the result's notes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaluate.estimators.demean import demean_two_way
from evaluate.estimators.did_twfe import FEW_CLUSTERS
from evaluate.estimators.fe_ols import FeFit, demeaned_fit
from evaluate.estimators.wild import randomization_inference, wild_from_stats
from evaluate.results.effect import EffectResult

__all__ = ["did", "ESTIMATORS"]

ESTIMATORS: tuple[str, ...] = ("callaway_santanna", "twfe", "event_study", "sun_abraham", "poisson")


def did(
    data: pd.DataFrame,
    *,
    outcome: str,
    estimator: Literal["callaway_santanna", "twfe", "event_study", "sun_abraham", "poisson"] = "callaway_santanna",
    unit: str = "area_code",
    time: str = "t",
    cohort: str | None = None,
    treatment: str | None = None,
    event_time: str | None = None,
    population: str | None = None,
    covariates: Sequence[str] = (),
    control: Literal["never_treated", "not_yet_treated"] | None = None,
    anticipation: int = 0,
    base_period: Literal["varying", "universal"] = "varying",
    adjustment: Literal["dr", "ipw", "reg"] = "dr",
    aggregations: Sequence[str] = ("simple", "dynamic", "group", "calendar"),
    bootstrap: int = 999,
    window: tuple[int, int] | None = None,
    se: Literal["auto", "cluster", "wild"] = "auto",
    wild_draws: int = 999,
    wild_weights: Literal["auto", "rademacher", "webb"] = "auto",
    randomization: int = 0,
    unbalanced: Literal["refuse", "drop_units"] = "refuse",
    labels: dict[object, str] | None = None,
    seed: int = 20240601,
    ci_level: float = 0.95,
    **meta: Any,
) -> EffectResult:
    """Estimate a difference-in-differences effect.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    outcome
        Outcome column (a rate, or a count for ``poisson``).
    estimator
        One of :data:`ESTIMATORS`.
    unit, time
        Panel keys (``time`` numeric).
    cohort
        First treated time of each unit (Callaway-Sant'Anna, Sun-Abraham); also used to build
        ``treatment`` and ``event_time`` when those are not given.
    treatment
        0/1 treatment column (TWFE, Poisson).
    event_time
        Periods since adoption (event study).
    population
        Population column for the Poisson offset.
    covariates, control, anticipation, base_period, adjustment, aggregations, bootstrap,
    unbalanced
        Callaway-Sant'Anna options (see :func:`~evaluate.estimators.did_cs.callaway_santanna`).
    window
        Event study / Sun-Abraham window of binned relative times.
    se, wild_draws, wild_weights
        TWFE and event-study inference (``auto``: wild bootstrap below 50 clusters).
    randomization
        TWFE randomization-inference draws over adoption dates (0: none).
    labels
        Text of time values for estimand names.
    seed, ci_level
        Seed of every random draw; interval level.
    **meta
        ``analysis``, ``intervention``, ``outcome_role``, ``outcome_label``, ``unit_label``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"did: estimator must be one of ({', '.join(ESTIMATORS)}), got {estimator!r}")
    wanted = [outcome, f"{outcome}__suppressed", unit, time, cohort, treatment, event_time, population, *covariates]
    data = data[list(dict.fromkeys(c for c in wanted if c is not None and c in data.columns))]
    if cohort is not None and estimator != "callaway_santanna":  # it reads the cohort column itself
        data = data.copy()
        g = pd.to_numeric(data[cohort], errors="coerce")
        never = g.isna() | (g == 0) | np.isinf(g)
        t = pd.to_numeric(data[time])
        if treatment is None:
            treatment = "__treated"
            data[treatment] = ((t >= g) & ~never).astype(float)
        if event_time is None:
            event_time = "__event_time"
            data[event_time] = (t - g).where(~never)

    if estimator == "callaway_santanna":
        from evaluate.estimators.did_cs import callaway_santanna

        if cohort is None:
            raise ValueError("did: callaway_santanna needs cohort=<first treated time column>")
        return callaway_santanna(
            data, outcome=outcome, unit=unit, time=time, cohort=cohort, control=control,
            anticipation=anticipation, base_period=base_period, covariates=covariates, method=adjustment,
            aggregations=aggregations, bootstrap=bootstrap, seed=seed, ci_level=ci_level,
            unbalanced=unbalanced, labels=labels, **meta,
        )
    if estimator == "sun_abraham":
        from evaluate.estimators.did_sa import sun_abraham

        if cohort is None:
            raise ValueError("did: sun_abraham needs cohort=<first treated time column>")
        return sun_abraham(data, outcome=outcome, cohort=cohort, unit=unit, time=time, window=window,
                           ci_level=ci_level, **meta)
    if estimator == "poisson":
        from evaluate.estimators.did_poisson import poisson_did

        if treatment is None:
            raise ValueError("did: poisson needs treatment= or cohort=")
        return poisson_did(data, outcome=outcome, treatment=treatment, unit=unit, time=time,
                           population=population, covariates=covariates, ci_level=ci_level, **meta)
    if estimator == "twfe":
        from evaluate.estimators.did_twfe import twfe

        if treatment is None:
            raise ValueError("did: twfe needs treatment= or cohort=")
        result = twfe(data, outcome=outcome, treatment=treatment, unit=unit, time=time, covariates=covariates,
                      ci_level=ci_level, **meta)
        result = _with_bacon(result, data, outcome, treatment, unit, time)
        regressors = [treatment, *covariates]
        names = {"att": treatment}
    else:
        from evaluate.estimators.did_twfe import event_study

        if event_time is None:
            raise ValueError("did: event_study needs event_time= or cohort=")
        result = event_study(data, outcome=outcome, event_time=event_time, unit=unit, time=time,
                             window=window, covariates=covariates, ci_level=ci_level, **meta)
        used = [f"e{r.removeprefix('att_e')}" for r in result.estimates["estimand"]]
        regressors = [*used, *covariates]
        names = {f"att_e{c[1:]}": c for c in used}

    n_clusters = int(data[unit].nunique())
    use_wild = se == "wild" or (se == "auto" and n_clusters < FEW_CLUSTERS)
    if use_wild:
        result = _with_wild(result, data, outcome, regressors, names, unit, time, wild_draws,
                            None if wild_weights == "auto" else wild_weights, seed, ci_level)
    if randomization and estimator == "twfe":
        result = _with_randomization(result, data, outcome, treatment, unit, time, randomization, seed)
    return result


def _with_wild(
    result: EffectResult,
    data: pd.DataFrame,
    outcome: str,
    regressors: list[str],
    names: dict[str, str],
    unit: str,
    time: str,
    draws: int,
    weights: Any,
    seed: int,
    level: float,
) -> EffectResult:
    """Wild-bootstrap p-values and intervals from the fit's cluster sums (no row-level refit)."""
    fit = result.model
    if not isinstance(fit, FeFit) or fit.stats is None:  # a linearmodels fit: sums from the rows
        d = data.dropna(subset=[outcome, *regressors])
        fit = demeaned_fit(d[outcome].to_numpy(dtype=float), d[regressors].to_numpy(dtype=float),
                           pd.factorize(d[unit])[0], pd.factorize(d[time])[0], regressors)
    assert fit.stats is not None
    order = list(fit.params.index)
    est = result.estimates.copy()
    used_weights = ""
    for i, row in est.iterrows():
        col = names.get(str(row["estimand"]))
        if col is None or col not in order:
            continue
        wr = wild_from_stats(fit.stats, j=order.index(col), draws=draws, weights=weights, seed=seed, level=level)
        est.loc[i, ["ci_lower", "ci_upper", "p_value"]] = [wr.ci_lower, wr.ci_upper, wr.p_value]
        est.loc[i, "note"] = f"{row['note']}; wild cluster bootstrap p-value and interval (test inversion)"
        used_weights = wr.weights
    n_clusters = fit.stats.n_clusters
    diag = {**result.diagnostics, "wild_bootstrap": {"draws": draws, "weights": used_weights, "clusters": n_clusters,
                                                     "null_imposed": True, "seed": seed}}
    warnings = tuple(w for w in result.warnings if "wild cluster bootstrap" not in w)
    se_type = (f"wild cluster restricted bootstrap ({draws} draws, {used_weights} weights, {n_clusters} clusters) "
               f"for p-values and intervals; standard errors are CR1")
    return dataclasses.replace(result, estimates=est, diagnostics=diag, warnings=warnings, se_type=se_type)


def _with_randomization(
    result: EffectResult, data: pd.DataFrame, outcome: str, treatment: str, unit: str, time: str, draws: int, seed: int
) -> EffectResult:
    d = data.dropna(subset=[outcome, treatment])
    paths = d.pivot(index=unit, columns=time, values=treatment)
    if paths.isna().any().any():
        return dataclasses.replace(result, diagnostics={**result.diagnostics, "randomization_inference": {
            "note": "not computed: randomization inference needs a balanced panel"}})
    u = pd.Categorical(d[unit], categories=paths.index).codes
    t = pd.Categorical(d[time], categories=paths.columns).codes
    y = demean_two_way(d[outcome].to_numpy(dtype=float), u, t)
    p, sims = randomization_inference(y, paths.to_numpy(dtype=float), u, t, draws=draws, seed=seed)
    diag = {**result.diagnostics, "randomization_inference": {
        "draws": draws, "p_value": p, "seed": seed,
        "null": "no effect in any area and period (treatment paths reassigned across areas)",
        "quantiles": {q: float(np.quantile(sims, q)) for q in (0.025, 0.5, 0.975)}}}
    return dataclasses.replace(result, diagnostics=diag)


def _with_bacon(result: EffectResult, data: pd.DataFrame, outcome: str, treatment: str, unit: str, time: str) -> EffectResult:
    from evaluate.errors import AnalysisError
    from evaluate.estimators.bacon import bacon_decomposition

    try:
        table = bacon_decomposition(data, outcome=outcome, treatment=treatment, unit=unit, time=time)
    except (AnalysisError, ValueError) as exc:
        return dataclasses.replace(result, diagnostics={**result.diagnostics, "bacon": {"note": f"not computed: {exc}"}})
    summary = {
        kind: {"weight": float(g["weight"].sum()), "estimate": float((g["weight"] * g["estimate"]).sum() / g["weight"].sum())}
        for kind, g in table.groupby("type")
    }
    warnings = list(result.warnings)
    forbidden = summary.get("Later vs Earlier Treated", {}).get("weight", 0.0)
    if forbidden > 0.1:
        warnings.append(
            f"{forbidden:.0%} of the TWFE estimate's weight comes from comparing later-treated areas "
            "with already-treated ones; if effects change over time TWFE is biased, prefer "
            "callaway_santanna or sun_abraham"
        )
    return dataclasses.replace(
        result,
        diagnostics={**result.diagnostics, "bacon": {"by_type": summary, "comparisons": table.to_dict(orient="records")}},
        warnings=tuple(warnings),
        plot_data={**result.plot_data, "bacon": table},
    )
