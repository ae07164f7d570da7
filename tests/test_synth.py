"""Synthetic control and synthetic DiD on simulated panels with known effects; errors; invariances.

The panels follow a factor model, y_it = a_i + 4 l_i' f_t + e_it (a trend and a cycle as factors,
e ~ N(0, 0.5^2)), with treated areas drawn inside the donors' convex hull (Dirichlet mixtures of
donor levels and loadings) and a planted effect from the start. Placebo replications are kept
few (fixed seeds) so that the file runs in seconds; the Prop 99 replication is in
test_synth_reference.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluate.errors import AnalysisError
from evaluate.estimators.synth import synthetic_control
from evaluate.estimators.synth_weights import fit_block, fw_simplex, noise_level, sparsify, tuning
from evaluate.results.effect import EffectResult

EFFECT = -5.0


def make_panel(
    seed: int = 1,
    *,
    n_donors: int = 12,
    treated: tuple[str, ...] = ("T1",),
    starts: dict[str, int] | None = None,
    n_periods: int = 24,
    start: int = 16,
    effect: float = EFFECT,
) -> pd.DataFrame:
    """Monthly factor-model panel; ``starts`` gives each treated area's first treated position."""
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2018-01", periods=n_periods, freq="M")
    factors = np.stack([np.linspace(0, 3, n_periods), np.sin(np.arange(n_periods) / 3)])
    donors = [f"D{i:02d}" for i in range(n_donors)]
    load = {a: rng.normal(1, 0.5, 2) for a in donors}
    level = {a: rng.normal(20, 3) for a in donors}
    for a in treated:
        w = rng.dirichlet(np.ones(n_donors))
        load[a] = sum(w[i] * load[d] for i, d in enumerate(donors))
        level[a] = sum(w[i] * level[d] for i, d in enumerate(donors))
    starts = starts or dict.fromkeys(treated, start)
    rows = []
    for a in [*donors, *treated]:
        y = level[a] + 4 * load[a] @ factors + rng.normal(0, 0.5, n_periods)
        if a in starts:
            y = y + effect * (np.arange(n_periods) >= starts[a])
        rows += [{"area_code": a, "period": p, "y": v} for p, v in zip(periods, y, strict=True)]
    return pd.DataFrame(rows)


START = pd.Period("2019-05", freq="M")  # position 16


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def sdid(panel: pd.DataFrame) -> EffectResult:
    """SDID with every diagnostic on (areas adopting together: see the staggered test's cohort)."""
    return synthetic_control(panel, outcome="y", treated_areas=["T1"], start=START, n_placebo=60)


# --- estimates ---------------------------------------------------------------------------------


def test_sdid_recovers_the_planted_effect_within_its_interval(sdid: EffectResult) -> None:
    row = sdid.estimates.set_index("estimand").loc["att"]
    assert row["ci_lower"] < EFFECT < row["ci_upper"]
    assert abs(row["estimate"] - EFFECT) < 1.0
    assert row["std_error"] > 0 and row["p_value"] < 0.05
    assert sdid.method == "synthetic_control" and sdid.estimator == "sdid"


@pytest.mark.parametrize("estimator", ["sc", "did"])
def test_sc_and_did_recover_the_effect(estimator: str) -> None:
    data = make_panel(seed=3)
    r = synthetic_control(data, outcome="y", treated_areas=["T1"], start=START, estimator=estimator,  # type: ignore[arg-type]
                          placebo=False, leave_one_out=False)
    assert abs(r.estimate("att") - EFFECT) < 1.5
    assert np.isnan(r.estimates.set_index("estimand").loc["att", "std_error"])
    assert "switched off" in r.estimates.set_index("estimand").loc["att", "note"]


def test_per_period_effects_are_the_gaps_and_average_to_att(sdid: EffectResult) -> None:
    est = sdid.estimates.set_index("estimand")
    per = est.loc[[f"att_e{k}" for k in range(8)], "estimate"].to_numpy()
    assert per.mean() == pytest.approx(est.loc["att", "estimate"], abs=1e-12)
    series = sdid.plot_data["series"]
    post = series[series["event_time"] >= 0]
    np.testing.assert_allclose((post["treated"] - post["synthetic"]).to_numpy(), per, atol=1e-12)
    assert list(series.columns[:3]) == ["period", "treated", "synthetic"]
    assert series["period"].iloc[16] == START
    # placebo SEs of the per-period gaps
    assert (est.loc[[f"att_e{k}" for k in range(8)], "std_error"] > 0).all()


def test_weights_are_on_the_simplex() -> None:
    data = make_panel(seed=4)
    sc = synthetic_control(data, outcome="y", treated_areas=["T1"], start=START, estimator="sc",
                           placebo=False, leave_one_out=False)
    w = sc.plot_data["weights"]["weight"].to_numpy()
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (sc.plot_data["time_weights"]["weight"] == 0).all()  # SC has no time weights
    sd = synthetic_control(data, outcome="y", treated_areas=["T1"], start=START, placebo=False, leave_one_out=False)
    for frame in ("weights", "time_weights"):
        w = sd.plot_data[frame]["weight"].to_numpy()
        assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert sd.diagnostics["unit_weights"] == dict(zip(sd.plot_data["weights"]["area"], sd.plot_data["weights"]["weight"], strict=True))
    assert len(sd.diagnostics["time_weights"]) == 16


def test_did_is_the_two_way_fixed_effects_estimate() -> None:
    """synthdid's did_estimate equals OLS of y on area and period dummies and treated x post."""
    import statsmodels.formula.api as smf

    data = make_panel(seed=5, treated=("T1", "T2"))
    r = synthetic_control(data, outcome="y", treated_areas=["T2", "T1"], start=START, estimator="did",
                          placebo=False, leave_one_out=False)
    d = data.assign(
        d=(data["area_code"].isin(["T1", "T2"]) & (data["period"] >= START)).astype(float),
        t=data["period"].astype(str),
    )
    ols = smf.ols("y ~ C(area_code) + C(t) + d", data=d).fit()
    assert r.estimate("att") == pytest.approx(ols.params["d"], abs=1e-9)


def test_staggered_adoption_averages_cohorts_by_their_size() -> None:
    starts = {"T1": 14, "T2": 14, "T3": 18}
    data = make_panel(seed=6, treated=("T1", "T2", "T3"), starts=starts)
    periods = pd.period_range("2018-01", periods=24, freq="M")
    start = {a: periods[s] for a, s in starts.items()}
    r = synthetic_control(data, outcome="y", treated_areas=["T1", "T2", "T3"], start=start, n_placebo=20,
                          leave_one_out=False)
    est = r.estimates.set_index("estimand")
    g1, g2 = est.loc["att_g2019-03", "estimate"], est.loc["att_g2019-07", "estimate"]
    assert est.loc["att", "estimate"] == pytest.approx((2 * g1 + 1 * g2) / 3, abs=1e-12)
    assert est.loc["att", "ci_lower"] < EFFECT < est.loc["att", "ci_upper"]
    # a cohort is the same fit as a single-start analysis of its areas against the never-treated
    alone = synthetic_control(data[data["area_code"] != "T3"], outcome="y", treated_areas=["T1", "T2"],
                              start=start["T1"], placebo=False, leave_one_out=False)
    assert g1 == pytest.approx(alone.estimate("att"), abs=1e-12)
    # event time 8 exists only for the first cohort (10 post periods vs 6)
    assert est.loc["att_e8", "estimate"] == pytest.approx(alone.estimate("att_e8"), abs=1e-12)
    assert "att_e10" not in est.index
    cohorts = r.diagnostics["cohorts"]
    assert [c["cohort"] for c in cohorts] == ["2019-03", "2019-07"]
    assert [c["weight_in_att"] for c in cohorts] == pytest.approx([2 / 3, 1 / 3])
    assert set(r.plot_data["series"]["cohort"]) == {"2019-03", "2019-07"}


def test_predictors_steer_the_sc_weights() -> None:
    """Two donors with the same outcomes: the predictor decides which one gets the weight."""
    periods = list(range(2000, 2010))
    rng = np.random.default_rng(7)
    base = {a: rng.normal(10, 2, len(periods)) for a in ("C", "D", "E")}
    base["B"] = base["A"] = base["C"] * 0 + 12.0 + np.arange(10) * 0.1
    base["T"] = base["A"].copy()
    x = {"A": 1.0, "B": 5.0, "C": 0.0, "D": 3.0, "E": 2.0, "T": 5.0}
    data = pd.DataFrame([{"area_code": a, "period": p, "y": v, "x": x[a]}
                         for a, vals in base.items() for p, v in zip(periods, vals, strict=True)])
    kw = {"outcome": "y", "treated_areas": ["T"], "start": 2007, "estimator": "sc", "placebo": False,
          "leave_one_out": False}
    without = synthetic_control(data, **kw).diagnostics["unit_weights"]
    with_x = synthetic_control(data, predictors=["x"], **kw).diagnostics["unit_weights"]
    assert without["A"] == pytest.approx(without["B"], abs=0.01)  # a tie: split (nearly) evenly
    assert with_x["B"] > 0.95


# --- inference and diagnostics -----------------------------------------------------------------


def test_in_space_placebos_and_leave_one_out(sdid: EffectResult) -> None:
    d = sdid.diagnostics
    space = d["in_space_placebo"]
    assert space["n"] == 12 and space["p_value"] == pytest.approx(1 / 13)  # the treated ratio is the largest
    assert not d["poor_pre_fit"]
    assert not any("poor pre-period fit" in w for w in sdid.warnings)
    positive = [a for a, w in d["unit_weights"].items() if w > 0]
    loo = d["leave_one_out"]
    assert sorted(loo["estimates"]) == sorted(positive)
    assert loo["min"] <= loo["max"] < 0
    gaps = sdid.plot_data["placebo_gaps"]
    assert list(gaps.columns[:3]) == ["period", "area", "gap"] and len(gaps) == 12 * 24
    json.dumps(d)  # JSON-ready


def test_poor_fit_warning_when_the_treated_area_is_outside_the_donors() -> None:
    data = make_panel(seed=8)
    top = data.groupby("period")["y"].transform("max")
    treated = data["area_code"] == "T1"
    data.loc[treated, "y"] = top[treated] + 15 + np.arange(treated.sum()) * 0.3  # above every donor
    r = synthetic_control(data, outcome="y", treated_areas=["T1"], start=START, estimator="sc", n_placebo=10,
                          leave_one_out=False)
    assert r.diagnostics["poor_pre_fit"]
    assert any("poor pre-period fit" in w and "outside what the donors can reproduce" in w for w in r.warnings)


def test_row_order_does_not_change_results(panel: pd.DataFrame, sdid: EffectResult) -> None:
    shuffled = panel.sample(frac=1.0, random_state=3).reset_index(drop=True)
    r = synthetic_control(shuffled, outcome="y", treated_areas=["T1"], start=START, n_placebo=60)
    pd.testing.assert_frame_equal(r.estimates, sdid.estimates)
    assert r.diagnostics == sdid.diagnostics


def test_period_labels_need_not_be_periods() -> None:
    data = make_panel(seed=9)
    ref = synthetic_control(data, outcome="y", treated_areas=["T1"], start=START, placebo=False, leave_one_out=False)
    as_text = data.assign(period=data["period"].astype(str))
    as_int = data.assign(period=data["period"].map(lambda p: p.year * 100 + p.month))
    for d, start in ((as_text, "2019-05"), (as_int, 201905), (as_int, "201905")):
        r = synthetic_control(d, outcome="y", treated_areas=["T1"], start=start, placebo=False, leave_one_out=False)
        assert r.estimate("att") == pytest.approx(ref.estimate("att"), abs=1e-12)


def test_rows_without_keys_are_accounted_for() -> None:
    data = make_panel(seed=10)
    extra = pd.DataFrame([{"area_code": None, "period": START, "y": 1.0}])
    r = synthetic_control(pd.concat([data, extra], ignore_index=True), outcome="y", treated_areas=["T1"],
                          start=START, placebo=False, leave_one_out=False)
    assert r.rows.n_input == len(data) + 1
    assert r.rows.n_used == len(data)
    assert r.rows.dropped == {"area or period missing": 1}


# --- errors ------------------------------------------------------------------------------------


def _small() -> pd.DataFrame:
    return make_panel(seed=11, n_donors=4, n_periods=8, start=5)


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda d: d[d["area_code"].isin(["T1", "D00"])], {}, r"1 donor area .* needs at least 2 untreated areas; add comparison"),
        (None, {"start": pd.Period("2018-02", "M")}, r"leaves 1 pre-period .* at least 2 periods before the start; give data from earlier"),
        (None, {"start": pd.Period("2019-01", "M")}, r"after the last period in the data \(2018-08\).*check the start"),
        (None, {"start": pd.Period("2017-06", "M")}, r"before the first period in the data \(2018-01\).*check the start"),
        (None, {"treated_areas": ["t1"]}, r"treated area 't1' is not in the data \(did you mean 'T1'\?\).*correct treated_areas"),
        (lambda d: d.drop(index=[3, 20]).assign(y=lambda x: x["y"].where(x.index != 30)),
         {}, r"3 missing cells .*\(1 missing outcome values; 2 area-periods with no row.*needs a balanced block; drop the areas"),
        (lambda d: pd.concat([d, d.iloc[[0]]]), {}, r"2 rows share an area and period .*give one row per area and period"),
        (None, {"predictors": ["y"]}, r"matched by estimator 'sc' only.*Use estimator: sc, or drop predictors"),
        (None, {"start": {"T1": "2018-06", "D01": "2018-06"}}, r"start gives a date for 'D01', which is not in treated_areas"),
        (None, {"treated_areas": ["T1", "D00"], "start": {"T1": "2018-06"}}, r"start has no date for treated area\(s\) D00: give every"),
        (lambda d: d[d["area_code"].isin(["T1", "D00", "D01", "D02"])], {"treated_areas": ["T1", "D00"], "placebo": True},
         r"placebo standard error needs more donors than treated areas \(2 donors, 2 treated\); add donors or set placebo: false"),
    ],
)
def test_impossible_analyses_are_refused_with_the_fix(change, kwargs, match) -> None:
    data = _small()
    if change is not None:
        data = change(data)
    args = {"outcome": "y", "treated_areas": ["T1"], "start": pd.Period("2018-06", "M"), **kwargs}
    with pytest.raises(AnalysisError, match=match):
        synthetic_control(data, **args)


def test_bad_options_are_refused() -> None:
    data = _small()
    with pytest.raises(ValueError, match=r"estimator must be one of \(sc, sdid, did\), got 'synth'"):
        synthetic_control(data, outcome="y", treated_areas=["T1"], start="2018-06", estimator="synth")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="column 'yy' not in the data"):
        synthetic_control(data, outcome="yy", treated_areas=["T1"], start="2018-06")
    with pytest.raises(ValueError, match="n_placebo must be an integer >= 2"):
        synthetic_control(data, outcome="y", treated_areas=["T1"], start="2018-06", n_placebo=1)


def test_too_few_donors_for_placebo_under_auto_gives_no_se_and_says_why() -> None:
    data = _small()
    data = data[data["area_code"].isin(["T1", "D00", "D01", "D02"])]
    r = synthetic_control(data, outcome="y", treated_areas=["T1", "D00"], start="2018-06")
    assert np.isnan(r.estimates["std_error"]).all()
    assert any("no standard errors" in w for w in r.warnings)


# --- the solver --------------------------------------------------------------------------------


def test_frank_wolfe_reaches_the_constrained_optimum() -> None:
    """Run long, the solver approaches a generic solver's optimum (SLSQP).

    Frank-Wolfe converges like 1/t when the optimum is on a face of the simplex (here one weight
    is 0): 10,000 iterations leave the objective about 5e-5 above the optimum.
    """
    from scipy import optimize

    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(15, 6)), rng.normal(size=15)
    zeta = 0.3

    def objective(w: np.ndarray) -> float:
        return float(zeta**2 * w @ w + np.sum((a @ w - b) ** 2) / len(b))

    w = fw_simplex(a[None], b[None], zeta=np.array([zeta]), intercept=False, init=np.full((1, 6), 1 / 6),
                   min_decrease=np.array([0.0]), max_iter=10_000)[0]
    ref = optimize.minimize(objective, np.full(6, 1 / 6), method="SLSQP", bounds=[(0, 1)] * 6,
                            constraints={"type": "eq", "fun": lambda v: v.sum() - 1}, tol=1e-14)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    assert 0 <= objective(w) - ref.fun < 1e-4
    np.testing.assert_allclose(w, ref.x, atol=1e-3)


def test_batches_give_the_same_weights_as_single_problems() -> None:
    rng = np.random.default_rng(13)
    y = rng.normal(size=(3, 8, 10)).cumsum(axis=2)
    together = fit_block(y, 7, 6, estimator="sdid")
    for j in range(3):
        alone = fit_block(y[j : j + 1], 7, 6, estimator="sdid")
        np.testing.assert_allclose(alone.omega[0], together.omega[j], atol=1e-12)
        np.testing.assert_allclose(alone.lam[0], together.lam[j], atol=1e-12)


def test_tuning_follows_synthdid() -> None:
    y = np.array([[[0.0, 2.0, 4.0, 9.0], [0.0, 4.0, 8.0, 9.0], [1.0, 1.0, 1.0, 5.0]]])
    sigma = np.std([2.0, 2.0, 4.0, 4.0], ddof=1)  # first differences of the 2 controls over 3 pre-periods
    assert noise_level(y[:, :2, :3])[0] == pytest.approx(sigma)
    t = tuning(y, 2, 3, estimator="sdid")
    assert t.zeta_omega[0] == pytest.approx((1 * 1) ** 0.25 * sigma)
    assert t.zeta_lambda[0] == pytest.approx(1e-6 * sigma)
    assert t.min_decrease[0] == pytest.approx(1e-5 * sigma)
    assert tuning(y, 2, 3, estimator="sc").zeta_omega[0] == pytest.approx(1e-6 * sigma)
    np.testing.assert_allclose(sparsify(np.array([[0.5, 0.3, 0.1, 0.1]])), [[0.625, 0.375, 0.0, 0.0]])
