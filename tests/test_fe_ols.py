"""The fast TWFE routes equal linearmodels' PanelOLS (the plain path) and the row-level wild bootstrap.

Tolerances: coefficients 1e-10 absolute, standard errors 1e-9 relative (both routes agree with
linearmodels to about 1e-15 in practice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluate.estimators import did_sa, did_twfe
from evaluate.estimators.did import did
from evaluate.estimators.did_twfe import _fit_linearmodels, event_time_columns
from evaluate.estimators.fe_ols import collapsed_fit, demeaned_fit
from evaluate.estimators.wild import _Design, _draws, wild_cluster_bootstrap, wild_from_stats


def _panel(rng: np.random.Generator, n: int = 60, t: int = 20, never: bool = True) -> pd.DataFrame:
    cohorts = np.array([5.0, 8.0, 12.0, np.inf] if never else [5.0, 8.0, 12.0, 16.0])
    g = cohorts[rng.integers(0, len(cohorts), n)]
    unit = np.repeat(np.arange(n), t)
    time = np.tile(np.arange(t), n)
    gi = g[unit]
    post = time >= gi
    y = rng.normal(size=n)[unit] + 0.1 * time + post * (1 + 0.1 * np.clip(time - gi, 0, None)) + rng.normal(size=n * t)
    return pd.DataFrame({
        "unit": unit, "t": time, "cohort": gi, "D": post.astype(float), "y": y,
        "event_time": np.where(np.isinf(gi), np.nan, time - gi), "x": rng.normal(size=n * t),
        "region": unit // 6,
    })


def _reference(d: pd.DataFrame, regressors: list[str], cluster: str | None = None) -> Any:
    return _fit_linearmodels(d, "y", "unit", "t", regressors, fixed_effects="unit", group=None,
                             cluster=cluster, weights=None)


def _same(fit: Any, ref: Any) -> None:
    names = list(ref.params.index)
    np.testing.assert_allclose(fit.params[names].to_numpy(), ref.params.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(fit.std_errors[names].to_numpy(), ref.std_errors.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.cov.loc[names, names].to_numpy(), ref.cov.to_numpy(), rtol=1e-8, atol=1e-14)


def test_collapsed_twfe_equals_linearmodels(rng: np.random.Generator) -> None:
    d = _panel(rng)
    n, t = d["unit"].nunique(), d["t"].nunique()
    cohorts = np.array([5.0, 8.0, 12.0, np.inf])
    group = pd.Series(d.groupby("unit")["cohort"].first()).map({c: i for i, c in enumerate(cohorts)}).to_numpy()
    w = (np.arange(t)[None, :] >= cohorts[:, None]).astype(float)[:, :, None]
    fit = collapsed_fit(d["y"].to_numpy().reshape(n, t), group, w, ["D"])
    assert fit.route == "collapsed"
    _same(fit, _reference(d, ["D"]))
    by_region = collapsed_fit(d["y"].to_numpy().reshape(n, t), group, w, ["D"],
                              cluster=d.groupby("unit")["region"].first().to_numpy())
    _same(by_region, _reference(d, ["D"], cluster="region"))


def test_demeaned_route_equals_linearmodels_unbalanced_with_covariates(rng: np.random.Generator) -> None:
    d = _panel(rng).sample(frac=0.85, random_state=3).sort_index()
    d["y"] += 0.5 * d["x"]
    for cluster in (None, "region"):
        codes = None if cluster is None else pd.factorize(d[cluster])[0]
        fit = demeaned_fit(d["y"].to_numpy(), d[["D", "x"]].to_numpy(), pd.factorize(d["unit"])[0],
                           pd.factorize(d["t"])[0], ["D", "x"], cluster=codes)
        _same(fit, _reference(d, ["D", "x"], cluster=cluster))


@pytest.mark.parametrize("balanced", [True, False])
def test_twfe_estimator_equals_linearmodels(rng: np.random.Generator, balanced: bool) -> None:
    d = _panel(rng)
    if not balanced:
        d = d.drop(index=d.index[::17])
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="cluster")
    assert r.model.route == ("collapsed" if balanced else "demeaned")
    ref = _reference(d, ["D"])
    row = r.estimates.set_index("estimand").loc["att"]
    assert row["estimate"] == pytest.approx(float(ref.params["D"]), abs=1e-10)
    assert row["std_error"] == pytest.approx(float(ref.std_errors["D"]), rel=1e-9)


@pytest.mark.parametrize("never", [True, False])
def test_event_study_equals_linearmodels(rng: np.random.Generator, never: bool) -> None:
    d = _panel(rng, never=never)
    window = (-4, 6)
    r = did(d, outcome="y", estimator="event_study", unit="unit", time="t", cohort="cohort", window=window,
            se="cluster")
    assert r.model.route == "collapsed"
    dummies = event_time_columns(d["event_time"], window=window)
    nonzero = [c for c in dummies.columns if dummies[c].any()]
    ref = _reference(pd.concat([d, dummies[nonzero]], axis=1), nonzero)
    est = r.estimates.set_index("estimand")
    for c in ref.params.index:
        assert est.loc[f"att_e{c[1:]}", "estimate"] == pytest.approx(float(ref.params[c]), abs=1e-10)
        assert est.loc[f"att_e{c[1:]}", "std_error"] == pytest.approx(float(ref.std_errors[c]), rel=1e-9)
    leads = [c for c in ref.params.index if int(c[1:]) < -1]
    b = ref.params[leads].to_numpy()
    stat = float(b @ np.linalg.solve(ref.cov.loc[leads, leads].to_numpy(), b))
    assert r.diagnostics["pretrend"]["statistic"] == pytest.approx(stat, rel=1e-8)


def test_sun_abraham_routes_agree(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Collapsed route == row route (demeaned) == row route through linearmodels."""
    d = _panel(rng)
    kw: dict[str, Any] = {"outcome": "y", "cohort": "cohort", "unit": "unit", "time": "t", "window": (-4, 6)}
    fast = did_sa.sun_abraham(d, **kw)
    assert fast.model.route == "collapsed"
    monkeypatch.setattr(did_sa, "_fit_collapsed", lambda *a, **k: None)
    rows = did_sa.sun_abraham(d, **kw)
    assert rows.model.route == "demeaned"
    monkeypatch.setattr(did_sa, "_fit", did_twfe._fit_linearmodels)
    plain = did_sa.sun_abraham(d, **kw)
    for other in (rows, plain):
        pd.testing.assert_frame_equal(fast.estimates, other.estimates, rtol=1e-9, atol=1e-10)


def test_wild_bootstrap_from_cluster_sums_equals_rows(rng: np.random.Generator) -> None:
    d = _panel(rng, n=30)
    r = did(d, outcome="y", estimator="twfe", unit="unit", time="t", cohort="cohort", se="wild", wild_draws=199)
    from evaluate.estimators.demean import demean_two_way

    u, t = pd.factorize(d["unit"])[0], pd.factorize(d["t"])[0]
    rows = wild_cluster_bootstrap(demean_two_way(d[["D"]].to_numpy(), u, t), demean_two_way(d["y"].to_numpy(), u, t),
                                  u, draws=199, absorbed=int(u.max() + t.max() + 1))
    row = r.estimates.set_index("estimand").loc["att"]
    assert row["p_value"] == pytest.approx(rows.p_value, abs=1e-12)
    assert row["ci_lower"] == pytest.approx(rows.ci_lower, rel=1e-8)
    assert row["ci_upper"] == pytest.approx(rows.ci_upper, rel=1e-8)
    stats = r.model.stats
    assert wild_from_stats(stats, draws=199).t_statistic == pytest.approx(rows.t_statistic, rel=1e-10)
    # several regressors: the draws' t statistics agree with the row-level design
    d["D2"] = d["D"] * d["x"]
    fit = demeaned_fit(d["y"].to_numpy(), d[["D", "D2"]].to_numpy(), u, t, ["D", "D2"])
    x = demean_two_way(d[["D", "D2"]].to_numpy(), u, t)
    y = demean_two_way(d["y"].to_numpy(), u, t)
    v = _draws(np.random.default_rng(1), 50, 30, "rademacher")
    assert fit.stats is not None
    np.testing.assert_allclose(_Design(fit.stats, 1).boot_t(0.3, v),
                               _Design.from_rows(x, y, u, 1, fit.absorbed).boot_t(0.3, v), rtol=1e-9)


def test_absorbed_treatment_is_a_clear_error(rng: np.random.Generator) -> None:
    from evaluate.errors import AnalysisError

    d = _panel(rng)
    d["D"] = (d["cohort"] < np.inf).astype(float)  # constant within units: absorbed
    with pytest.raises(AnalysisError, match="does not vary within areas over time"):
        did(d, outcome="y", estimator="twfe", unit="unit", time="t", treatment="D", se="cluster")


def test_randomization_inference_equals_refitting_each_reassignment(rng: np.random.Generator) -> None:
    """The closed form (no refit per draw) gives the estimates of demeaning and refitting each one."""
    from evaluate.estimators.demean import demean_two_way
    from evaluate.estimators.wild import randomization_inference

    d = _panel(rng, n=25, t=12)
    u, t = d["unit"].to_numpy(), d["t"].to_numpy()
    paths = d.pivot(index="unit", columns="t", values="D").to_numpy()
    y = demean_two_way(d["y"].to_numpy(), u, t)
    p, sims = randomization_inference(y, paths, u, t, draws=40, seed=7)
    perm_rng = np.random.default_rng(7)
    for b in range(40):
        dd = demean_two_way(paths[perm_rng.permutation(25)][u, t], u, t)
        assert sims[b] == pytest.approx(float(dd @ y / (dd @ dd)), rel=1e-10, abs=1e-12)
    dd = demean_two_way(paths[u, t], u, t)
    observed = float(dd @ y / (dd @ dd))
    assert p == pytest.approx((1 + np.sum(np.abs(sims) >= abs(observed))) / 41)
