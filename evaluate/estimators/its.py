"""Interrupted time series: segmented regression of one series (or one against a comparison).

``its(data, outcome=..., start=...)`` fits the design of :mod:`evaluate.designs.its` with

========================  ==================================================================
``model="ols"``           linear model of a rate (or count), default standard errors the
                          prewhitened HAC of :mod:`evaluate.estimators.hac`
``model="poisson"``       Poisson GLM, log link, ``log(population)`` offset, model-based SEs
``model="quasipoisson"``  the same, SEs scaled by the Pearson dispersion (chi2 / df)
``model="negbin"``        negative binomial (NB2, dispersion by maximum likelihood)
``errors="arima"``        linear model with ARIMA(p, d, q) errors (statsmodels SARIMAX)
========================  ==================================================================

Standard errors (``se``): ``auto`` (``hac`` for OLS, ``model`` for Poisson and negative
binomial, ``pearson`` for quasi-Poisson), ``hac`` (prewhitened, calibrated by coverage tests),
``newey_west`` (statsmodels' HAC with ``lags``, by default the Newey-West (1994) rule
``floor(4 (T/100)^(2/9))``; it under-covers for ITS, see :mod:`evaluate.estimators.hac`),
``nonrobust``, ``model`` or ``pearson``.

With ``control=<column>`` the analysis is a controlled ITS: for OLS the treated-minus-comparison
series is modelled (so every coefficient is a difference between the series); for count models
the two series are stacked with series-specific intercept and trend and treated-specific
interruption terms. The estimands are then differences in change (ratios of rate ratios for
count models).

Every fit returns an :class:`~evaluate.results.EffectResult` whose ``model`` is the statsmodels
results object, whose ``plot_data["series"]`` holds the observed, fitted and counterfactual
series with the counterfactual's interval, and whose diagnostics hold autocorrelation tests,
overdispersion, placebo dates and warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaluate.designs.its import (
    SEASON_LENGTH,
    Interruption,
    fourier_terms,
    its_design,
    season_dummies,
    season_position,
    term_names,
)
from evaluate.data.periods import frequency_of
from evaluate.errors import AnalysisError
from evaluate.estimators.hac import newey_west_lags, prewhitened_hac
from evaluate.estimators.its_diagnostics import (
    autocorrelation_tests,
    min_segment_for,
    placebo_distribution,
)
from evaluate.estimators.its_effects import FittedIts, counterfactual_frame, effect_rows
from evaluate.results.effect import EffectResult, RowAccounting

__all__ = ["its", "MODELS", "SE_TYPES"]

Model = Literal["ols", "poisson", "quasipoisson", "negbin"]
SE = Literal["auto", "hac", "newey_west", "nonrobust", "model", "pearson"]
MODELS: tuple[str, ...] = ("ols", "poisson", "quasipoisson", "negbin")
SE_TYPES: tuple[str, ...] = ("auto", "hac", "newey_west", "nonrobust", "model", "pearson")


def _check_choice(name: str, value: str, options: Sequence[str]) -> None:
    if value not in options:
        raise ValueError(f"its: {name} must be one of ({', '.join(options)}), got {value!r}")


def _resolve_se(model: str, se: str, errors: str) -> str:
    if errors == "arima":
        return "arima"
    if se == "auto":
        return {"ols": "hac", "poisson": "model", "quasipoisson": "pearson", "negbin": "model"}[model]
    if model == "ols" and se in ("model", "pearson"):
        raise ValueError(f"its: se={se!r} applies to count models; use hac, newey_west or nonrobust")
    if model != "ols" and se == "nonrobust":
        raise ValueError("its: se='nonrobust' applies to OLS; count models use model or pearson")
    return se


def _time_values(data: pd.DataFrame, time: str | None, period: str) -> np.ndarray:
    if time is not None:
        return pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float)
    if period in data.columns and isinstance(data[period].dtype, pd.PeriodDtype):
        ords = pd.PeriodIndex(data[period]).asi8
        return (ords - ords.min() + 1).astype(float)
    return np.arange(1, len(data) + 1, dtype=float)


def _start_time(start: Any, data: pd.DataFrame, times: np.ndarray, period: str) -> tuple[float, str]:
    """Time value and label of an interruption given as a time value, Period or period label."""
    if isinstance(start, int | float | np.integer | np.floating) and not isinstance(start, bool):
        return float(start), f"time {start:g}"
    if period not in data.columns:
        raise ValueError(f"its: start {start!r} is a period but the data have no '{period}' column")
    col = data[period]
    if isinstance(col.dtype, pd.PeriodDtype):
        target = start if isinstance(start, pd.Period) else pd.Period(str(start), freq=col.dtype.freq)
        later = np.flatnonzero(np.asarray(pd.PeriodIndex(col) >= target))
        label = str(start)
    else:
        labels = col.astype(str).to_numpy()
        later = np.flatnonzero(labels >= str(start))
        label = str(start)
    if len(later) == 0:
        raise AnalysisError(f"its: start {label} is after the last period of the series")
    return float(times[later[0]]), label


def _season(
    data: pd.DataFrame,
    period: str,
    seasonality: str,
    harmonics: int,
    season: str | None,
    season_length: float | None,
    frequency: str | None,
) -> tuple[pd.DataFrame | None, float | None]:
    if seasonality == "none":
        return None, None
    if season is not None:
        position = pd.to_numeric(data[season], errors="coerce").to_numpy(dtype=float)
        length = season_length or 12
    else:
        if period not in data.columns or not isinstance(data[period].dtype, pd.PeriodDtype):
            raise ValueError(
                "its: seasonality needs a Period column (period=) or a season position column (season=)"
            )
        freq = frequency or frequency_of(data[period])
        length = season_length or SEASON_LENGTH.get(freq)
        if length is None:
            return None, None
        position = season_position(data[period]).astype(float)
    if seasonality == "fourier":
        k = min(harmonics, int(np.floor(length / 2)))
        return fourier_terms(position, length, k), length
    return season_dummies(position, int(round(length))), length


class _Fit:
    """A fitted model in a form the effect and diagnostic code can use."""

    def __init__(self, engine: Any, params: np.ndarray, cov: np.ndarray, df: float | None,
                 fitted: np.ndarray, pearson: np.ndarray, se_type: str, extra: dict[str, Any]) -> None:
        self.engine = engine
        self.params = params
        self.cov = cov
        self.df = df
        self.fitted = fitted
        self.pearson = pearson
        self.se_type = se_type
        self.extra = extra


def _fit(
    y: np.ndarray,
    x: pd.DataFrame,
    offset: np.ndarray,
    *,
    model: str,
    se: str,
    lags: int | None,
    arima_order: tuple[int, int, int],
) -> _Fit:
    import statsmodels.api as sm

    xa = x.to_numpy(dtype=float)
    n = len(y)
    if se == "arima":
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        res = SARIMAX(y, exog=xa, order=arima_order, trend="n").fit(disp=False)
        k = xa.shape[1]
        params = np.asarray(res.params[:k])
        cov = np.asarray(res.cov_params())[:k, :k]
        resid = np.asarray(res.resid)
        return _Fit(res, params, cov, None, xa @ params, resid,
                    f"ARIMA{arima_order} errors (statsmodels SARIMAX, maximum likelihood)",
                    {"arima_params": {str(nm): float(v) for nm, v in zip(res.param_names[k:], res.params[k:], strict=True)}})
    if model == "ols":
        ols = sm.OLS(y, xa)
        if se == "newey_west":
            maxlags = newey_west_lags(n) if lags is None else lags
            res = ols.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags}, use_t=True)
            return _Fit(res, res.params, res.cov_params(), res.df_resid, res.fittedvalues, res.resid,
                        f"Newey-West HAC (statsmodels, {maxlags} lags, small-sample correction)", {"lags": maxlags})
        base = ols.fit()
        if se == "nonrobust":
            return _Fit(base, base.params, base.cov_params(), base.df_resid, base.fittedvalues, base.resid,
                        "OLS (assumes independent, homoscedastic errors)", {})
        hac = prewhitened_hac(xa, base.resid, lags=lags or 0)
        res = sm.regression.linear_model.OLSResults(ols, base.params, normalized_cov_params=hac.cov, scale=1.0)
        res.use_t = True
        return _Fit(res, base.params, hac.cov, base.df_resid, base.fittedvalues, base.resid, hac.description,
                    {"rho": hac.rho, "lags": hac.lags})
    if model == "negbin":
        import warnings

        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        nb = sm.NegativeBinomial(y, xa, offset=offset, loglike_method="nb2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # checked just below
            # statsmodels' default: Poisson start values, BFGS on log(alpha)
            res = nb.fit(disp=0, maxiter=1000)
            if not res.mle_retvals.get("converged", False):
                rough = nb.fit(disp=0, method="nm", maxiter=5000)
                res = nb.fit(start_params=rough.params, disp=0, method="bfgs", maxiter=1000)
        converged = bool(res.mle_retvals.get("converged", False))
        k = xa.shape[1]
        params = np.asarray(res.params[:k])
        cov = np.asarray(res.cov_params())[:k, :k]
        mu = np.exp(xa @ params + offset)
        alpha = float(res.params[-1])
        pearson = (y - mu) / np.sqrt(mu + alpha * mu**2)
        if se == "hac":
            hac = prewhitened_hac(xa, y - mu, weights=mu / (1 + alpha * mu), lags=lags or 0)
            cov = hac.cov
        return _Fit(res, params, cov, None, mu, pearson,
                    "negative binomial (NB2) maximum likelihood" + (" with prewhitened HAC" if se == "hac" else ""),
                    {"alpha": alpha, "converged": converged})
    glm = sm.GLM(y, xa, family=sm.families.Poisson(), offset=offset)
    if se == "newey_west":
        maxlags = newey_west_lags(n) if lags is None else lags
        res = glm.fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
        se_type = f"Newey-West HAC (statsmodels GLM, {maxlags} lags)"
    elif se == "pearson" or model == "quasipoisson" and se == "auto":
        res = glm.fit(scale="X2")
        se_type = "quasi-Poisson: model-based SEs scaled by the Pearson dispersion (chi2/df)"
    else:
        res = glm.fit()
        se_type = "Poisson model-based (assumes variance = mean)"
    mu = np.asarray(res.fittedvalues)
    pearson = np.asarray(res.resid_pearson)
    cov = np.asarray(res.cov_params())
    extra = {"dispersion": float(res.pearson_chi2 / res.df_resid)}
    if se == "hac":
        hac = prewhitened_hac(xa, y - mu, weights=mu, lags=lags or 0)
        if model == "quasipoisson":
            pass  # the HAC covariance already reflects the actual variance
        cov = hac.cov
        se_type = "Poisson GLM with " + hac.description
        extra["rho"] = hac.rho
    return _Fit(res, np.asarray(res.params), cov, None, mu, pearson, se_type, extra)


def its(
    data: pd.DataFrame,
    *,
    outcome: str,
    start: Any | Sequence[Any] | None = None,
    interruptions: Sequence[Interruption] | None = None,
    slope_change: bool = True,
    time: str | None = None,
    period: str = "period",
    frequency: str | None = None,
    model: Model = "ols",
    population: str | None = None,
    seasonality: Literal["fourier", "month", "none"] = "fourier",
    harmonics: int = 2,
    season: str | None = None,
    season_length: float | None = None,
    covariates: Sequence[str] = (),
    se: SE = "auto",
    lags: int | None = None,
    errors: Literal["independent", "arima"] = "independent",
    arima_order: tuple[int, int, int] = (1, 0, 0),
    control: str | None = None,
    control_population: str | None = None,
    rate_per: float | None = None,
    exclude: str | None = None,
    horizons: Sequence[int] = (12,),
    placebo: bool = True,
    ci_level: float = 0.95,
    n_sim: int = 2000,
    seed: int = 20240601,
    analysis: str = "its",
    intervention: str = "",
    outcome_role: str = "",
    outcome_label: str | None = None,
    unit: str = "",
) -> EffectResult:
    """Fit an interrupted time series and estimate the interruption's effects.

    Parameters
    ----------
    data
        One row per period of one series (sorted by time here).
    outcome
        The series to model (a count for count models, a rate or count for OLS).
    start
        First period of the intervention: a period label, ``pandas.Period`` or time value, or a
        list of them for several interruptions. Alternatively ``interruptions``.
    interruptions
        Explicit :class:`~evaluate.designs.its.Interruption` objects (time values).
    slope_change
        Model a change of slope at each ``start`` (``interruptions`` carry their own).
    time
        Column with the time variable; by default 1, 2, ... from the ``period`` column.
    period
        Column of ``pandas.Period`` values (labels, seasonality, start dates).
    frequency
        ``month``, ``quarter``, ``week``...; by default from the periods.
    model
        ``ols``, ``poisson``, ``quasipoisson`` or ``negbin``.
    population
        Population column: the offset ``log(population)`` of count models, and the denominator of
        ``cumulative_averted_per_100k``.
    seasonality, harmonics, season, season_length
        ``fourier`` with ``harmonics`` sine/cosine pairs, ``month`` (one indicator per season) or
        ``none``; ``season`` names a column of season positions to use instead of the periods.
    covariates
        Further regressors.
    se, lags
        Standard errors and lags (see module docstring).
    errors, arima_order
        ``arima`` for a linear model with ARIMA errors.
    control, control_population
        Comparison series (and its population) for a controlled ITS.
    rate_per
        If the outcome is a rate per this many residents (``<variable>_rate``): cumulative
        effects are then summed as rates (per 100,000) and turned into counts with each period's
        population.
    exclude
        Boolean column of rows to leave out of the fit (phase-in periods).
    horizons
        Periods into the intervention for ``relative_change_h<k>``.
    placebo
        Fit placebo interruption dates in the pre-period.
    ci_level, n_sim, seed
        Interval level, parametric-simulation draws and seed.
    analysis, intervention, outcome_role, outcome_label, unit
        Labels carried into the result.

    Returns
    -------
    EffectResult
        Estimands ``level_change``, ``slope_change`` (and ``rate_ratio``, ``slope_rate_ratio``
        for count models), ``relative_change``, ``relative_change_h<k>``,
        ``cumulative_averted`` and ``cumulative_averted_per_100k`` (suffixed ``_2``, ... for
        later interruptions).

    Notes
    -----
    The mean model is
    :math:`g(\\mu_t) = \\beta_0 + \\beta_1 t + \\sum_k (\\delta_k S_{kt} + \\gamma_k D_{kt}) +
    \\text{season}_t + \\text{offset}_t`, with :math:`S_{kt} = 1\\{t \\ge s_k\\}` and
    :math:`D_{kt} = (t - s_k + 1) S_{kt}`.
    """
    _check_choice("model", model, MODELS)
    _check_choice("se", se, SE_TYPES)
    _check_choice("seasonality", seasonality, ("fourier", "month", "none"))
    _check_choice("errors", errors, ("independent", "arima"))
    for col in [outcome, *covariates, *(c for c in (population, control, control_population, exclude, time) if c)]:
        if col not in data.columns:
            raise KeyError(f"its: column '{col}' not in the data")
    if errors == "arima" and model != "ols":
        raise ValueError("its: errors='arima' applies to model='ols' (a linear model with ARIMA errors)")
    se_kind = _resolve_se(model, se, errors)
    if start is None and not interruptions:
        raise ValueError("its: give start (a period or time) or interruptions")

    data = data.reset_index(drop=True)
    times = _time_values(data, time, period)
    if np.isnan(times).any():
        raise ValueError(f"its: the time variable has missing values ('{time or period}')")
    order = np.argsort(times, kind="stable")  # residual order matters for HAC and diagnostics
    data, times = data.iloc[order].reset_index(drop=True), times[order]
    if len(np.unique(times)) < len(times):
        raise ValueError("its: more than one row per period; give one series (one row per period)")
    if interruptions:
        intr = sorted(interruptions, key=lambda i: i.time)
    else:
        starts = list(start) if isinstance(start, list | tuple) else [start]
        intr = sorted(
            (Interruption(*_start_time(s, data, times, period), slope_change=slope_change) for s in starts),
            key=lambda i: i.time,
        )
    freq = frequency or (frequency_of(data[period]) if period in data and isinstance(data[period].dtype, pd.PeriodDtype) else None)
    season_df, length = _season(data, period, seasonality, harmonics, season, season_length, freq)
    cov_df = data[list(covariates)].reset_index(drop=True).astype(float) if covariates else None
    design = its_design(times, intr, season=season_df, covariates=cov_df)

    # rows used, and why the others are not
    y_all = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    sup_col = f"{outcome}__suppressed"
    suppressed = data[sup_col].fillna(False).to_numpy(dtype=bool) if sup_col in data else np.zeros(len(data), bool)
    excluded = data[exclude].fillna(False).to_numpy(dtype=bool) if exclude else np.zeros(len(data), bool)
    dropped: dict[str, int] = {}
    keep = np.ones(len(data), dtype=bool)

    def drop(mask: np.ndarray, why: str) -> None:
        nonlocal keep
        hit = mask & keep
        if hit.any():
            dropped[why] = int(hit.sum())
        keep &= ~mask

    drop(excluded, "phase-in periods excluded")
    drop(np.isnan(y_all) & suppressed, "outcome suppressed")
    drop(np.isnan(y_all) & ~suppressed, "outcome missing")
    if covariates:
        drop(design[list(covariates)].isna().any(axis=1).to_numpy(), "covariate missing")
    pop_all = pd.to_numeric(data[population], errors="coerce").to_numpy(dtype=float) if population else None
    counts = model != "ols"
    if counts and pop_all is not None:
        drop(~(pop_all > 0), "population missing")
    c_all = None
    if control is not None:
        c_all = pd.to_numeric(data[control], errors="coerce").to_numpy(dtype=float)
        drop(np.isnan(c_all), "comparison series missing")
        if counts and control_population:
            cp = pd.to_numeric(data[control_population], errors="coerce").to_numpy(dtype=float)
            drop(~(cp > 0), "comparison population missing")
    if counts and np.any(y_all[keep] < 0):
        raise AnalysisError(f"its: '{outcome}' has negative values; count models need counts")

    rows = RowAccounting(n_input=len(data), n_used=int(keep.sum()), dropped=dropped)
    t_used = times[keep]
    n_pre = int((t_used < intr[0].time).sum())
    n_post = int((t_used >= intr[0].time).sum())
    p = design.shape[1]
    if n_pre < 3 or n_post < 1 or keep.sum() <= p + 1:
        raise AnalysisError(
            f"its: too few periods to fit '{outcome}': {n_pre} before and {n_post} after the start "
            f"with {p} parameters; the series needs at least 3 pre-period and 1 post-period "
            "observations and more rows than parameters"
        )

    offset_all = np.log(pop_all) if counts and pop_all is not None else np.zeros(len(data))
    names = list(design.columns)
    interruption_terms = [term_names(k, len(intr)) for k in range(1, len(intr) + 1)]
    effect_cols = [s for s, _ in interruption_terms] + [
        d for (_, d), i in zip(interruption_terms, intr, strict=True) if i.slope_change
    ]

    if control is None:
        x_fit = design[keep].reset_index(drop=True)
        y_fit = y_all[keep]
        off_fit = offset_all[keep]
        estimator = model if errors == "independent" else "ols_arima"
    elif not counts:
        x_fit = design[keep].reset_index(drop=True)
        y_fit = (y_all - c_all)[keep]
        off_fit = np.zeros(int(keep.sum()))
        estimator = "controlled_ols"
    else:
        cp_all = (np.log(pd.to_numeric(data[control_population], errors="coerce").to_numpy(dtype=float))
                  if control_population else np.zeros(len(data)))
        base = design[keep].reset_index(drop=True)
        treated = base.copy()
        comparison = base.copy()
        for c in effect_cols:
            comparison[c] = 0.0
        treated["group"], comparison["group"] = 1.0, 0.0
        treated["group_time"], comparison["group_time"] = treated["time"], 0.0
        # interruption terms are treated-specific; the comparison series carries the common change
        for c in effect_cols:
            treated[f"common_{c}"] = treated[c]
            comparison[f"common_{c}"] = base[c]
        x_fit = pd.concat([treated, comparison], ignore_index=True)
        y_fit = np.concatenate([y_all[keep], c_all[keep]])
        off_fit = np.concatenate([offset_all[keep], cp_all[keep]])
        estimator = f"controlled_{model}"

    xa = x_fit.to_numpy(dtype=float)
    if np.linalg.matrix_rank(xa) < xa.shape[1]:
        flat = [c for c in x_fit.columns if c != "const" and np.ptp(xa[:, list(x_fit.columns).index(c)]) == 0]
        raise AnalysisError(
            f"its: the model for '{outcome}' cannot separate its terms (the design is "
            f"rank-deficient{'; constant columns: ' + ', '.join(flat) if flat else ''}); drop a "
            "covariate or seasonal term, or use a longer series"
        )
    fit = _fit(y_fit, x_fit, off_fit, model=model, se=se_kind, lags=lags, arima_order=arima_order)
    names = list(x_fit.columns)
    n_fit = int(keep.sum())
    x_t = x_fit.to_numpy(dtype=float)[:n_fit]
    x0 = x_t.copy()
    for c in effect_cols:
        x0[:, names.index(c)] = 0.0
    post = t_used >= intr[0].time
    fitted_its = FittedIts(
        link="log" if counts else "identity",
        names=names,
        params=np.asarray(fit.params, dtype=float),
        cov=np.asarray(fit.cov, dtype=float),
        df=fit.df,
        x=x_t,
        x0=x0,
        offset=np.asarray(off_fit[:n_fit], dtype=float),
        post=post,
    )
    pop_post = pop_all[keep][post] if pop_all is not None and post.any() else None
    labels_intr = [(i.label, s, d if i.slope_change else None) for i, (s, d) in zip(intr, interruption_terms, strict=True)]
    max_h = int(post.sum())
    records = effect_rows(
        fitted_its,
        interruptions=labels_intr,
        horizons=[h for h in horizons if 1 <= h <= max_h],
        level=ci_level,
        n_sim=n_sim,
        seed=seed,
        population_post=pop_post,
        rate_per=rate_per,
        relative=not (control is not None and not counts),
    )
    estimates = pd.DataFrame.from_records(records)

    # diagnostics
    diag: dict[str, Any] = {
        "model": model,
        "errors": errors,
        "standard_errors": fit.se_type,
        "interruptions": [{"time": i.time, "label": i.label, "slope_change": i.slope_change} for i in intr],
        "n_pre": n_pre,
        "n_post": n_post,
        "parameters": p,
        "seasonality": seasonality if season_df is not None else "none",
        "season_length": length,
        "coefficients": {nm: {"estimate": float(b), "std_error": float(np.sqrt(max(v, 0)))}
                         for nm, b, v in zip(names, fitted_its.params, np.diag(fitted_its.cov), strict=True)},
        **{k: v for k, v in fit.extra.items()},
    }
    resid = np.asarray(fit.pearson, dtype=float)[:n_fit]
    ols_engine = fit.engine if (model == "ols" and se_kind in ("nonrobust", "newey_west", "hac")) else None
    try:
        # tests use the single-series design (the stacked controlled design repeats columns)
        diag["autocorrelation"] = autocorrelation_tests(
            resid, design[keep].to_numpy(dtype=float), ols_result=ols_engine,
            lags=int(round(length)) if length else 4,
        )
    except (ValueError, np.linalg.LinAlgError) as exc:  # too few rows for the test
        diag["autocorrelation"] = {"note": f"not computed: {exc}"}
    if counts:
        disp = float(np.sum(np.asarray(fit.pearson) ** 2) / max(len(y_fit) - len(names), 1))
        diag["overdispersion"] = {"pearson_dispersion": disp}

    level_name = "level_change"
    real = estimates.set_index("estimand").loc[level_name]
    real_t = float(real["estimate"] / real["std_error"]) if real["std_error"] > 0 else float("nan")
    if placebo and control is None:
        diag["placebo"] = _placebo(
            y_all, times, keep, offset_all, season_df, cov_df, intr, real_t,
            model=model, se=se_kind, lags=lags, arima_order=arima_order, frequency=freq,
        )
    warnings = _warnings(diag, se_kind, model, seasonality, length, n_pre, p - len(effect_cols), real)

    label = outcome_label or outcome
    series = counterfactual_frame(
        fitted_its,
        labels=(data.loc[keep, period].astype(str).to_numpy() if period in data else t_used),
        observed=y_fit[:n_fit],
        level=ci_level,
        n_sim=min(n_sim, 1000),
        seed=seed,
    )
    series.insert(1, "time", t_used)
    if control is not None:
        series["comparison"] = c_all[keep]
    return EffectResult(
        analysis=analysis,
        method="its",
        estimator=estimator,
        outcome=outcome,
        outcome_role=outcome_role,
        outcome_label=label,
        intervention=intervention,
        estimates=estimates,
        ci_level=ci_level,
        se_type=fit.se_type,
        rows=rows,
        diagnostics=diag,
        warnings=tuple(warnings),
        model=fit.engine,
        plot_data={"series": series},
        unit=unit,
    )


def _placebo(
    y_all: np.ndarray,
    times: np.ndarray,
    keep: np.ndarray,
    offset_all: np.ndarray,
    season_df: pd.DataFrame | None,
    cov_df: pd.DataFrame | None,
    intr: list[Interruption],
    real_t: float,
    *,
    model: str,
    se: str,
    lags: int | None,
    arima_order: tuple[int, int, int],
    frequency: str | None,
) -> dict[str, Any]:
    pre = keep & (times < intr[0].time)

    def fit_at(c: float) -> tuple[float, float] | None:
        fake = [Interruption(c, "placebo", slope_change=intr[0].slope_change)]
        s = season_df[pre].reset_index(drop=True) if season_df is not None else None
        cv = cov_df[pre].reset_index(drop=True) if cov_df is not None else None
        x = its_design(times[pre], fake, season=s, covariates=cv)
        if np.linalg.matrix_rank(x.to_numpy(dtype=float)) < x.shape[1] or len(x) <= x.shape[1] + 1:
            return None
        try:
            f = _fit(y_all[pre], x, offset_all[pre], model=model, se=se, lags=lags, arima_order=arima_order)
        except (ValueError, np.linalg.LinAlgError):
            return None
        j = list(x.columns).index("step")
        b, v = float(f.params[j]), float(f.cov[j, j])
        return (b, b / np.sqrt(v)) if v > 0 else None

    return placebo_distribution(
        times[keep], intr[0].time, real_t, fit_at, min_segment=min_segment_for(frequency)
    )


def _warnings(
    diag: dict[str, Any],
    se: str,
    model: str,
    seasonality: str,
    length: float | None,
    n_pre: int,
    n_pre_params: int,
    real: pd.Series,
) -> list[str]:
    out = []
    if n_pre < max(8, 3 * n_pre_params):
        out.append(
            f"short pre-period: {n_pre} periods to estimate {n_pre_params} pre-period parameters "
            "(level, trend, seasonality, covariates); the counterfactual rests on little data"
        )
    if length and seasonality != "none" and n_pre < 2 * length:
        out.append(
            f"the pre-period covers fewer than two seasonal cycles ({n_pre} periods, cycle of "
            f"{length:g}); seasonal terms are poorly identified"
        )
    ac = diag.get("autocorrelation", {})
    lb = ac.get("ljung_box", {}).get("p_value")
    if lb is not None and lb < 0.05 and se in ("nonrobust", "model", "pearson"):
        out.append(
            f"residuals are autocorrelated (Ljung-Box p = {lb:.3f}) but the standard errors "
            f"({se}) assume independence; use se: hac or errors: arima"
        )
    if se == "newey_west":
        out.append(
            "plain Newey-West standard errors are too small for interrupted time series with "
            "autocorrelated errors (coverage of 95% intervals about 0.8 in our simulations); "
            "prefer se: hac"
        )
    if diag.get("converged") is False:
        out.append(
            "the negative binomial likelihood did not converge; treat its estimates with caution "
            "or use model: quasipoisson"
        )
    disp = diag.get("overdispersion", {}).get("pearson_dispersion")
    if model == "poisson" and disp is not None and disp > 1.5:
        out.append(
            f"overdispersion: Pearson dispersion {disp:.2f} > 1.5, so Poisson standard errors are "
            "too small; use model: quasipoisson or negbin"
        )
    pl = diag.get("placebo", {})
    if pl.get("n", 0) >= 5 and pl.get("placebo_p_value", 0) > 0.1 and real.get("p_value", 1) < 0.05:
        out.append(
            f"placebo dates in the pre-period give level changes as large as the real one "
            f"(placebo p = {pl['placebo_p_value']:.2f}); the apparent effect may be noise or a "
            "pre-existing change"
        )
    return out
