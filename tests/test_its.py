"""Interrupted time series: planted effects recovered, engines agree, diagnostics and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluate.designs.its import Interruption, fourier_terms, its_design
from evaluate.errors import AnalysisError
from evaluate.estimators.hac import ar1_rho_given_design, newey_west_lags, prewhitened_hac
from evaluate.estimators.its import its
from tests.its_sim import ar1, linear_series, poisson_series


def _est(result, name: str) -> pd.Series:  # type: ignore[no-untyped-def]
    return result.estimates.set_index("estimand").loc[name]


def test_design_columns_follow_the_wagner_convention() -> None:
    x = its_design(np.arange(1, 7), [Interruption(4, "x", slope_change=True)])
    assert list(x.columns) == ["const", "time", "step", "since"]
    assert x["step"].tolist() == [0, 0, 0, 1, 1, 1]
    assert x["since"].tolist() == [0, 0, 0, 1, 2, 3]  # 1 in the first post period


def test_fourier_terms_match_tsmodel_harmonic() -> None:
    f = fourier_terms(np.array([1, 2, 3]), 12, 2)
    assert list(f.columns) == ["sin1", "sin2", "cos1", "cos2"]
    assert f.loc[0, "sin2"] == pytest.approx(np.sin(4 * np.pi / 12))


def test_quarterly_fourier_terms_drop_the_zero_sine() -> None:
    f = fourier_terms(np.array([1, 2, 3, 4]), 4, 2)
    assert list(f.columns) == ["sin1", "cos1", "cos2"]
    assert np.linalg.matrix_rank(np.column_stack([np.ones(4), f])) == 4


def test_ols_recovers_a_planted_level_change(rng: np.random.Generator) -> None:
    d = linear_series(rng, level=3.0, rho=0.3)
    r = its(d, outcome="y", start="2015-01", model="ols", placebo=False)
    row = _est(r, "level_change")
    assert row["ci_lower"] < 3.0 < row["ci_upper"]
    assert "prewhitened HAC" in r.se_type
    assert r.diagnostics["interruptions"][0]["time"] == 61


def test_newey_west_equals_statsmodels(rng: np.random.Generator) -> None:
    """Reference case: our newey_west SEs are statsmodels' HAC with the same lags."""
    d = linear_series(rng)
    r = its(d, outcome="y", start=61, model="ols", se="newey_west", lags=4, seasonality="none", placebo=False)
    t = np.arange(1, 121)
    x = np.column_stack([np.ones(120), t, (t >= 61), (t - 60) * (t >= 61)])
    ref = sm.OLS(d["y"].to_numpy(), x).fit(cov_type="HAC", cov_kwds={"maxlags": 4})
    np.testing.assert_allclose(r.model.bse, ref.bse, rtol=1e-12)
    assert _est(r, "level_change")["std_error"] == pytest.approx(ref.bse[2], rel=1e-12)
    assert any("Newey-West standard errors are too small" in w for w in r.warnings)


def test_newey_west_default_lag_rule() -> None:
    assert newey_west_lags(120) == 4
    assert newey_west_lags(60) == 3


def test_prewhitening_estimates_rho_given_the_design(rng: np.random.Generator) -> None:
    n = 2000
    t = np.arange(1, n + 1)
    x = np.column_stack([np.ones(n), t, t >= n // 2])
    e = ar1(n, 0.6, rng)
    resid = sm.OLS(e, x).fit().resid
    assert ar1_rho_given_design(x, resid) == pytest.approx(0.6, abs=0.05)
    h = prewhitened_hac(x, resid)
    assert np.all(np.linalg.eigvalsh(h.cov) > 0)


def test_poisson_recovers_a_planted_rate_ratio(rng: np.random.Generator) -> None:
    d = poisson_series(rng, rate_ratio=0.85)
    r = its(d, outcome="y", start=61, model="poisson", population="pop", slope_change=False, placebo=False)
    rr = _est(r, "rate_ratio")
    assert rr["ci_lower"] < 0.85 < rr["ci_upper"]
    assert rr["estimate"] == pytest.approx(np.exp(_est(r, "level_change")["estimate"]))


def test_relative_change_at_a_horizon_is_exact_for_log_link(rng: np.random.Generator) -> None:
    d = poisson_series(rng)
    r = its(d, outcome="y", start=61, model="quasipoisson", population="pop", horizons=[6], placebo=False)
    b = r.diagnostics["coefficients"]
    expected = np.exp(b["step"]["estimate"] + 6 * b["since"]["estimate"]) - 1
    assert _est(r, "relative_change_h6")["estimate"] == pytest.approx(expected, rel=1e-10)


def test_cumulative_averted_without_noise_is_the_planted_total() -> None:
    t = np.arange(1, 49)
    y = 100.0 + 0.5 * t - 10.0 * (t >= 25)
    d = pd.DataFrame({"period": pd.period_range("2020-01", periods=48, freq="M"), "y": y, "pop": 200_000.0})
    d["y"] += np.tile([0.01, -0.01], 24)  # tiny noise so the fit is not exact
    r = its(d, outcome="y", start=25, model="ols", population="pop", seasonality="none", slope_change=False, placebo=False)
    assert _est(r, "cumulative_averted")["estimate"] == pytest.approx(10 * 24, rel=1e-3)
    assert _est(r, "cumulative_averted_per_100k")["estimate"] == pytest.approx(240 / 2, rel=1e-3)


def test_rate_outcome_cumulative_is_per_100k_and_counts_use_population() -> None:
    t = np.arange(1, 49)
    rate = 20.0 - 2.0 * (t >= 25) + np.tile([0.01, -0.01], 24)
    d = pd.DataFrame({"period": pd.period_range("2020-01", periods=48, freq="M"), "r": rate, "pop": 300_000.0})
    res = its(d, outcome="r", start=25, model="ols", population="pop", rate_per=100_000, seasonality="none",
              slope_change=False, placebo=False)
    assert _est(res, "cumulative_averted_per_100k")["estimate"] == pytest.approx(2 * 24, rel=5e-3)
    assert _est(res, "cumulative_averted")["estimate"] == pytest.approx(2 * 24 * 3, rel=5e-3)


def test_negative_binomial_and_arima_run_and_cover(rng: np.random.Generator) -> None:
    d = poisson_series(rng, rate_ratio=0.8)
    nb = its(d, outcome="y", start=61, model="negbin", population="pop", slope_change=False, placebo=False)
    assert _est(nb, "rate_ratio")["ci_lower"] < 0.8 < _est(nb, "rate_ratio")["ci_upper"]
    assert "alpha" in nb.diagnostics
    lin = linear_series(rng, level=2.0, rho=0.5)
    ar = its(lin, outcome="y", start=61, model="ols", errors="arima", placebo=False)
    assert "ARIMA(1, 0, 0)" in ar.se_type
    assert _est(ar, "level_change")["ci_lower"] < 2.0 < _est(ar, "level_change")["ci_upper"]
    assert ar.diagnostics["arima_params"]["ar.L1"] == pytest.approx(0.5, abs=0.25)


def test_several_interruptions(rng: np.random.Generator) -> None:
    t = np.arange(1, 121)
    y = 10 + 0.02 * t + 2.0 * (t >= 41) - 3.0 * (t >= 81) + rng.normal(scale=0.3, size=120)
    d = pd.DataFrame({"period": pd.period_range("2010-01", periods=120, freq="M"), "y": y})
    r = its(d, outcome="y", start=["2013-05", "2016-09"], slope_change=False, seasonality="none", placebo=False)
    assert _est(r, "level_change")["estimate"] == pytest.approx(2.0, abs=0.4)
    assert _est(r, "level_change_2")["estimate"] == pytest.approx(-3.0, abs=0.4)


def test_month_indicators_and_covariates(rng: np.random.Generator) -> None:
    d = linear_series(rng, level=1.0)
    d["x"] = rng.normal(size=len(d))
    d["y"] += 0.7 * d["x"]
    r = its(d, outcome="y", start=61, seasonality="month", covariates=["x"], placebo=False)
    assert r.diagnostics["coefficients"]["x"]["estimate"] == pytest.approx(0.7, abs=0.2)
    assert "season12" in r.diagnostics["coefficients"]


def test_controlled_its_estimates_the_difference_in_change(rng: np.random.Generator) -> None:
    treated = poisson_series(rng, rate_ratio=0.8)
    comparison = poisson_series(rng, rate_ratio=1.1)  # a change that also hit the comparison
    d = treated.assign(c=comparison["y"], cpop=comparison["pop"])
    r = its(d, outcome="y", start=61, model="quasipoisson", population="pop", control="c",
            control_population="cpop", slope_change=False, placebo=False)
    rr = _est(r, "rate_ratio")
    assert r.estimator == "controlled_quasipoisson"
    assert rr["ci_lower"] < 0.8 / 1.1 < rr["ci_upper"]
    lin_t = linear_series(rng, level=2.0, rho=0.2)
    lin_c = linear_series(rng, level=0.5, rho=0.2)
    r2 = its(lin_t.assign(c=lin_c["y"]), outcome="y", start=61, control="c", placebo=False)
    assert r2.estimator == "controlled_ols"
    assert _est(r2, "level_change")["ci_lower"] < 1.5 < _est(r2, "level_change")["ci_upper"]
    assert "relative_change" not in set(r2.estimates["estimand"])  # no meaning for a difference


def test_rows_are_accounted_for(rng: np.random.Generator) -> None:
    d = poisson_series(rng).astype({"y": float})
    d.loc[5, "y"] = np.nan
    d.loc[6, "y"] = np.nan
    d["y__suppressed"] = False
    d.loc[6, "y__suppressed"] = True
    d["phase"] = False
    d.loc[60:62, "phase"] = True
    r = its(d, outcome="y", start=61, model="poisson", population="pop", exclude="phase", placebo=False)
    assert r.rows.n_input == 120 and r.rows.n_used == 115
    assert r.rows.dropped == {"phase-in periods excluded": 3, "outcome suppressed": 1, "outcome missing": 1}


def test_row_order_does_not_matter(rng: np.random.Generator) -> None:
    d = linear_series(rng)
    a = its(d, outcome="y", start=61, placebo=False).estimates
    b = its(d.sample(frac=1, random_state=1), outcome="y", start=61, placebo=False).estimates
    pd.testing.assert_frame_equal(a, b)


def test_placebo_dates_rank_the_real_effect(rng: np.random.Generator) -> None:
    strong = its(linear_series(rng, level=6.0, rho=0.2), outcome="y", start=61)
    pl = strong.diagnostics["placebo"]
    assert pl["n"] >= 20 and pl["rank_of_real"] == pl["n"] + 1 and pl["placebo_p_value"] < 0.05
    none = its(linear_series(rng, level=0.0, rho=0.2), outcome="y", start=61)
    assert none.diagnostics["placebo"]["placebo_p_value"] > 0.05


def test_short_pre_period_warns_and_placebo_notes(rng: np.random.Generator) -> None:
    d = linear_series(rng, n=40, start=9)
    r = its(d, outcome="y", start=9)
    assert any("short pre-period" in w for w in r.warnings)
    assert any("fewer than two seasonal cycles" in w for w in r.warnings)
    assert "too short for placebo dates" in r.diagnostics["placebo"]["note"]


def test_autocorrelation_warning_when_errors_assume_independence(rng: np.random.Generator) -> None:
    d = linear_series(rng, rho=0.8)
    r = its(d, outcome="y", start=61, se="nonrobust", placebo=False)
    assert r.diagnostics["autocorrelation"]["ljung_box"]["p_value"] < 0.05
    assert any("residuals are autocorrelated" in w for w in r.warnings)
    assert 0 < r.diagnostics["autocorrelation"]["durbin_watson"] < 1.5


def test_overdispersion_warning(rng: np.random.Generator) -> None:
    d = poisson_series(rng)
    d["y"] = rng.negative_binomial(5, 5 / (5 + d["y"].to_numpy() + 1))
    r = its(d, outcome="y", start=61, model="poisson", population="pop", placebo=False)
    assert r.diagnostics["overdispersion"]["pearson_dispersion"] > 1.5
    assert any("overdispersion" in w for w in r.warnings)


def test_counterfactual_series_for_charts(rng: np.random.Generator) -> None:
    r = its(poisson_series(rng), outcome="y", start=61, model="poisson", population="pop", placebo=False)
    s = r.plot_data["series"]
    assert list(s.columns) == ["period", "time", "observed", "fitted", "counterfactual", "counterfactual_lower", "counterfactual_upper", "post"]
    pre = ~s["post"]
    np.testing.assert_allclose(s.loc[pre, "fitted"], s.loc[pre, "counterfactual"])
    assert (s["counterfactual_lower"] <= s["counterfactual"]).all() and (s["counterfactual"] <= s["counterfactual_upper"]).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "phrase"),
    [
        ({"outcome": "nope", "start": 61}, KeyError, "its: column 'nope' not in the data"),
        ({"outcome": "y", "start": 61, "model": "logit"}, ValueError, r"model must be one of \(ols, poisson"),
        ({"outcome": "y", "start": 61, "se": "pearson"}, ValueError, "applies to count models"),
        ({"outcome": "y", "start": 61, "model": "poisson", "errors": "arima"}, ValueError, "errors='arima' applies to model='ols'"),
        ({"outcome": "y"}, ValueError, "give start"),
        ({"outcome": "y", "start": 2}, AnalysisError, "too few periods"),
        ({"outcome": "y", "start": "2030-01"}, AnalysisError, "after the last period"),
    ],
)
def test_errors(rng: np.random.Generator, kwargs: dict[str, object], error: type, phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        its(linear_series(rng), placebo=False, **kwargs)  # type: ignore[arg-type]


def test_rank_deficient_design_is_refused(rng: np.random.Generator) -> None:
    d = linear_series(rng).assign(x=1.0)
    with pytest.raises(AnalysisError, match="rank-deficient; constant columns: x"):
        its(d, outcome="y", start=61, covariates=["x"], placebo=False)


def test_duplicate_periods_are_refused(rng: np.random.Generator) -> None:
    d = linear_series(rng)
    with pytest.raises(ValueError, match="more than one row per period"):
        its(pd.concat([d, d.iloc[:1]]), outcome="y", start=61, placebo=False)


def test_negative_counts_are_refused(rng: np.random.Generator) -> None:
    d = poisson_series(rng)
    d.loc[3, "y"] = -1
    with pytest.raises(AnalysisError, match="negative values"):
        its(d, outcome="y", start=61, model="poisson", population="pop", placebo=False)
