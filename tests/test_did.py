"""DiD estimators: planted effects, fast paths equal plain ones, inference tools, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluate.designs.did import wide_panel
from evaluate.errors import AnalysisError
from evaluate.estimators.bacon import bacon_decomposition
from evaluate.estimators.demean import demean_two_way
from evaluate.estimators.did import did
from evaluate.estimators.did_cs import att_gt, multiplier_bootstrap
from evaluate.estimators.wild import _Design, _draws, auto_weights, wild_cluster_bootstrap
from tests.did_sim import staggered_panel, true_simple_att


def _est(r, name: str) -> pd.Series:  # type: ignore[no-untyped-def]
    return r.estimates.set_index("estimand").loc[name]


def test_callaway_santanna_recovers_a_growing_effect(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, growth=0.2)
    r = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0)
    row = _est(r, "att")
    assert row["ci_lower"] < true_simple_att(d) < row["ci_upper"]
    assert r.estimator == "callaway_santanna"
    assert {"att_dynamic", "att_e0", "att_e5", "att_group", "att_calendar"} <= set(r.estimates["estimand"])


def test_cell_influence_function_matches_a_direct_regression(rng: np.random.Generator) -> None:
    """Fast path vs plain path: ATT(g,t) and its SE equal the 2x2 OLS on the cell's units."""
    d = staggered_panel(rng, n_units=60, n_periods=8, cohorts=(4,))
    res = att_gt(wide_panel(d, outcome="y", unit="unit", time="t", cohort="cohort"))
    i = int(np.flatnonzero((res.group == 4) & (res.time == 6))[0])
    sub = d[d["t"].isin([3, 6])].copy()
    sub["treated"] = np.isfinite(sub["cohort"]).astype(float)
    sub["post"] = (sub["t"] == 6).astype(float)
    wide = sub.pivot(index="unit", columns="t", values="y")
    dy = (wide[6] - wide[3]).to_numpy()
    treated = sub.groupby("unit")["treated"].first().reindex(wide.index).to_numpy()
    ols = sm.OLS(dy, sm.add_constant(treated)).fit(cov_type="HC0")
    assert res.att[i] == pytest.approx(ols.params[1], rel=1e-10)
    assert res.se[i] == pytest.approx(ols.bse[1], rel=1e-10)  # the IF SE is the HC0 SE of the 2x2 regression


def test_not_yet_treated_used_and_warned_when_no_never_treated(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, never_share=0.0)
    r = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0)
    assert r.diagnostics["control_group"] == "not_yet_treated"
    assert any("no never-treated units" in w for w in r.warnings)
    with pytest.raises(AnalysisError, match="there are no never-treated units; use control: not_yet_treated"):
        did(d, outcome="y", unit="unit", time="t", cohort="cohort", control="never_treated", bootstrap=0)


def test_unbalanced_panels_are_refused_or_dropped(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=40)
    d.loc[5, "y"] = np.nan
    with pytest.raises(AnalysisError, match=r"the panel is unbalanced: 1 unit-periods .* set unbalanced: drop_units"):
        did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0)
    r = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0, unbalanced="drop_units")
    assert r.rows.dropped["units with missing outcomes"] == 20
    assert r.rows.n_input == r.rows.n_used + sum(r.rows.dropped.values())


def test_multiplier_bootstrap_se_close_to_analytic(rng: np.random.Generator) -> None:
    d = staggered_panel(rng)
    res = att_gt(wide_panel(d, outcome="y", unit="unit", time="t", cohort="cohort"))
    psi = res.psi[:, ~res.is_base]
    se, crit = multiplier_bootstrap(psi, draws=2000, seed=1, level=0.95)
    analytic = np.sqrt((psi**2).sum(axis=0)) / res.n
    assert np.median(se / analytic) == pytest.approx(1.0, abs=0.05)
    assert crit > 1.96  # a uniform band is wider than pointwise intervals


def test_bootstrap_is_reproducible_with_a_seed(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=80)
    a = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=199, seed=7).estimates
    b = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=199, seed=7).estimates
    pd.testing.assert_frame_equal(a, b)
    assert "band_lower" in did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=199).plot_data["event_study"]


def test_twfe_equals_dummy_regression_and_carries_bacon(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=60, n_periods=10, cohorts=(4, 7))
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="cluster")
    x = pd.get_dummies(d[["unit", "t"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "D", ((d["t"] >= d["cohort"])).astype(float))
    ols = sm.OLS(d["y"], sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["unit"])[0]})
    assert r.estimate("att") == pytest.approx(ols.params["D"], rel=1e-9)
    assert _est(r, "att")["std_error"] == pytest.approx(ols.bse["D"], rel=1e-9)
    bacon = r.diagnostics["bacon"]["by_type"]
    total = sum(v["weight"] * v["estimate"] for v in bacon.values())
    assert total == pytest.approx(r.estimate("att"), rel=1e-9)


def test_bacon_refuses_non_absorbing_treatment(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=20, n_periods=6, cohorts=(3,))
    d["D"] = ((d["t"] >= d["cohort"]) & (d["t"] != 5)).astype(float)
    with pytest.raises(AnalysisError, match="absorbing"):
        bacon_decomposition(d, outcome="y", treatment="D", unit="unit", time="t")


def test_event_study_and_sun_abraham(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, effect=2.0)
    es = did(d, outcome="y", estimator="event_study", unit="unit", time="t", cohort="cohort", window=(-4, 4), se="cluster")
    assert _est(es, "att_e0")["ci_lower"] < 2.0 < _est(es, "att_e0")["ci_upper"]
    assert abs(_est(es, "att_e-3")["estimate"]) < 0.5
    assert es.diagnostics["pretrend"]["df"] == 3
    assert "att_e-1" not in set(es.estimates["estimand"])  # the reference period
    sa = did(d, outcome="y", estimator="sun_abraham", unit="unit", time="t", cohort="cohort", window=(-4, 4))
    assert _est(sa, "att_e2")["ci_lower"] < 2.0 < _est(sa, "att_e2")["ci_upper"]


def test_sun_abraham_equals_callaway_santanna_universal(rng: np.random.Generator) -> None:
    """With never-treated controls and no binning, the IW event-time effects are CS's (universal base)."""
    d = staggered_panel(rng, n_units=100, n_periods=8, cohorts=(3, 5))
    sa = did(d, outcome="y", estimator="sun_abraham", unit="unit", time="t", cohort="cohort", window=(-5, 4))
    cs = did(d, outcome="y", unit="unit", time="t", cohort="cohort", base_period="universal", bootstrap=0)
    for e in ("att_e0", "att_e2", "att_e-3"):
        assert _est(sa, e)["estimate"] == pytest.approx(_est(cs, e)["estimate"], abs=1e-9)


def test_demeaning_balanced_and_unbalanced_agree_with_dummies(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=30, n_periods=6).sample(frac=0.8, random_state=1)
    u, t = pd.factorize(d["unit"])[0], pd.factorize(d["t"])[0]
    dd = demean_two_way(d[["y"]].to_numpy(), u, t)[:, 0]
    x = pd.get_dummies(d[["unit", "t"]].astype(str), drop_first=True, dtype=float)
    resid = sm.OLS(d["y"].to_numpy(), sm.add_constant(x)).fit().resid
    np.testing.assert_allclose(dd, resid, atol=1e-8)


def test_wild_bootstrap_draws_equal_brute_force(rng: np.random.Generator) -> None:
    """The cluster-sum implementation gives the t statistics of refitting every draw."""
    d = staggered_panel(rng, n_units=24, n_periods=8, cohorts=(4,))
    d["D"] = (d["t"] >= d["cohort"]).astype(float)
    d["x2"] = rng.normal(size=len(d))
    u, t = pd.factorize(d["unit"])[0], pd.factorize(d["t"])[0]
    x = demean_two_way(d[["D", "x2"]].to_numpy(), u, t)
    y = demean_two_way(d["y"].to_numpy(), u, t)
    design = _Design.from_rows(x, y, u, 0)
    v = _draws(np.random.default_rng(3), 40, 24, "webb")
    fast = design.boot_t(0.5, v)
    xo = x[:, 1:]
    fit = xo @ np.linalg.lstsq(xo, y - 0.5 * x[:, 0], rcond=None)[0] + 0.5 * x[:, 0]
    resid = y - fit
    a = np.linalg.inv(x.T @ x)
    slow = []
    for b in range(40):
        ys = fit + resid * v[b, u]
        beta = a @ x.T @ ys
        e = ys - x @ beta
        sc = np.zeros((24, 2))
        np.add.at(sc, u, x * e[:, None])
        var = design.factor * (a @ sc.T @ sc @ a)[0, 0]
        slow.append((beta[0] - 0.5) / np.sqrt(var))
    np.testing.assert_allclose(fast, slow, rtol=1e-10)


def test_wild_bootstrap_interval_contains_estimate_and_weights_rule(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=10, n_periods=10, cohorts=(5,), never_share=0.5)
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort")
    row = _est(r, "att")
    assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
    assert r.diagnostics["wild_bootstrap"]["weights"] == "webb"
    assert "wild cluster restricted bootstrap" in r.se_type
    assert auto_weights(11) == "webb" and auto_weights(12) == "rademacher"


def test_wild_bootstrap_rejects_a_false_null(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=20, n_periods=10, cohorts=(5,), effect=3.0, sd=0.5)
    d["D"] = (d["t"] >= d["cohort"]).astype(float)
    u, t = pd.factorize(d["unit"])[0], pd.factorize(d["t"])[0]
    w = wild_cluster_bootstrap(demean_two_way(d[["D"]].to_numpy(), u, t), demean_two_way(d["y"].to_numpy(), u, t), u, draws=499)
    assert w.p_value < 0.01 and w.ci_lower < 3.0 < w.ci_upper


def test_randomization_inference(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=30, n_periods=8, cohorts=(4,), effect=0.0)
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="cluster", randomization=199)
    ri = r.diagnostics["randomization_inference"]
    assert 0 < ri["p_value"] <= 1 and ri["draws"] == 199
    d2 = staggered_panel(rng, n_units=30, n_periods=8, cohorts=(4,), effect=4.0, sd=0.5)
    r2 = did(d2, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="cluster", randomization=199)
    assert r2.diagnostics["randomization_inference"]["p_value"] <= 0.01


def test_poisson_recovers_a_rate_ratio(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=80, n_periods=12, cohorts=(6,))
    d["pop"] = 100_000.0
    d["D"] = (d["t"] >= d["cohort"]).astype(float)
    d["count"] = rng.poisson(30 * np.exp(0.02 * d["t"] + np.log(0.8) * d["D"]))
    r = did(d, outcome="count", estimator="poisson", unit="unit", time="t", treatment="D", population="pop")
    rr = _est(r, "rate_ratio")
    assert rr["ci_lower"] < 0.8 < rr["ci_upper"]


@pytest.mark.parametrize(
    ("kwargs", "error", "phrase"),
    [
        ({"estimator": "synthetic"}, ValueError, r"estimator must be one of \(callaway_santanna"),
        ({"estimator": "callaway_santanna", "cohort": None}, ValueError, "needs cohort="),
        ({"estimator": "twfe", "cohort": None}, ValueError, "needs treatment= or cohort="),
        ({"estimator": "callaway_santanna", "outcome": "nope"}, KeyError, "column 'nope' not in the data"),
    ],
)
def test_errors(rng: np.random.Generator, kwargs: dict[str, object], error: type, phrase: str) -> None:
    d = staggered_panel(rng, n_units=20, n_periods=6)
    base: dict[str, object] = {"outcome": "y", "unit": "unit", "time": "t", "cohort": "cohort", "bootstrap": 0}
    base.update(kwargs)
    with pytest.raises(error, match=phrase):
        did(d, **base)  # type: ignore[arg-type]


def test_row_order_and_unit_labels_do_not_change_estimates(rng: np.random.Generator) -> None:
    d = staggered_panel(rng, n_units=60)
    a = did(d, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0).estimates
    shuffled = d.sample(frac=1, random_state=2).assign(unit=lambda x: "z" + x["unit"])
    b = did(shuffled, outcome="y", unit="unit", time="t", cohort="cohort", bootstrap=0).estimates
    pd.testing.assert_frame_equal(a[["estimand", "estimate", "std_error"]], b[["estimand", "estimate", "std_error"]],
                                  check_exact=False, rtol=1e-10)


def test_event_time_pretest_computes_and_detects_pre_trends(rng: np.random.Generator) -> None:
    """The Wald test of the dynamic leads: W = b' V^-1 b from the leads' influence functions, with
    the F(k, G-1) p-value; a planted anticipation effect (treated units rise 3 periods early) is found."""
    d = staggered_panel(rng, n_units=120, n_periods=20, cohorts=(10, 14))
    r = did(d, outcome="y", estimator="callaway_santanna", unit="unit", time="t", cohort="cohort", bootstrap=0)
    pt = r.diagnostics["pretest_event_time"]
    leads = r.estimates.set_index("estimand").loc[[f"att_e{k}" for k in pt["leads"]]]
    assert pt["df"] == len(leads) == 12
    assert pt["p_value"] > 0.01 and pt["f_statistic"] == pytest.approx(pt["statistic"] / 12)
    early = d.copy()
    e = early["t"] - early["cohort"]
    early.loc[(e >= -3) & (e < 0), "y"] += 1.0
    r2 = did(early, outcome="y", estimator="callaway_santanna", unit="unit", time="t", cohort="cohort", bootstrap=0)
    assert r2.diagnostics["pretest_event_time"]["p_value"] < 0.001
    assert any("event-time effects before adoption" in w or "pre-treatment effects" in w for w in r2.warnings)
