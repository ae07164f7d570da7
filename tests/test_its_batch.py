"""Batched ITS (`its_batch`, `its_by_area`): equal to statsmodels per area and to `its()` per area.

Panels are simulated with a fixed seed and include areas with different starts, a missing and a
suppressed cell, and (for count models) an area whose post-period counts are all zero. Every
estimand, standard error, interval, p-value, note, row count, warning, diagnostic and the
counterfactual series are compared with `its()` run on each area's own series.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluate.errors import AnalysisError
from evaluate.estimators import its_batch as batch_module
from evaluate.estimators.hac import ar1_rho_given_design
from evaluate.estimators.its import its
from evaluate.estimators.its_batch import batch_supported, its_batch, its_by_area

MONTHS = 72
STARTS = (30, 36, 42)  # period index of each area's start (three start groups)


def _panel(seed: int, *, counts: bool, n_areas: int = 6) -> tuple[pd.DataFrame, dict[str, str]]:
    """Monthly panel with a planted change: counts (Poisson, population offset) or a rate."""
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2016-01", periods=MONTHS, freq="M")
    t = np.arange(1, MONTHS + 1)
    month = periods.month.to_numpy()
    frames, starts = [], {}
    for a in range(n_areas):
        code = f"E{a:02d}"
        s = STARTS[a % len(STARTS)]
        starts[code] = str(periods[s])
        pop = 50_000.0 * (a + 1) * (1 + 0.002 * t)
        post = t > s
        if counts:
            eta = np.log(40 / 1e5) + np.log(pop) + 0.003 * t + 0.15 * np.sin(2 * np.pi * month / 12) - 0.2 * post
            y = rng.poisson(np.exp(eta)).astype(float)
        else:
            y = 20 + 0.05 * t - 2.0 * post + np.sin(2 * np.pi * month / 12) + rng.normal(size=MONTHS)
        frames.append(pd.DataFrame({"area_code": code, "period": periods, "y": y, "pop": pop, "y__suppressed": False}))
    data = pd.concat(frames, ignore_index=True)
    data.loc[(data["area_code"] == "E01") & (data["period"] == periods[10]), "y"] = np.nan  # missing cell
    sup = (data["area_code"] == "E02") & (data["period"] == periods[50])
    data.loc[sup, "y"] = np.nan
    data.loc[sup, "y__suppressed"] = True
    return data, starts


def _area(data: pd.DataFrame, code: str) -> pd.DataFrame:
    return data[data["area_code"] == code].reset_index(drop=True)


def _close(a: Any, b: Any, rtol: float, path: str = "") -> None:
    """Recursive comparison of JSON-like values (floats to ``rtol``, everything else exactly)."""
    if isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for key in a:
            _close(a[key], b[key], rtol, f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, rtol, f"{path}[{i}]")
    elif isinstance(a, float | np.floating) and not isinstance(b, str):
        assert (np.isnan(a) and np.isnan(b)) or b == pytest.approx(a, rel=rtol, abs=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


def _same_result(per_area: Any, batched: Any, rtol: float = 1e-7) -> None:
    ea, eb = per_area.estimates, batched.estimates
    assert list(ea.columns) == list(eb.columns)
    assert ea["estimand"].tolist() == eb["estimand"].tolist()
    assert ea["note"].tolist() == eb["note"].tolist()
    for col in ("n_obs", "n_areas", "n_periods"):
        assert ea[col].tolist() == eb[col].tolist(), col
    for col in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(eb[col].to_numpy(float), ea[col].to_numpy(float), rtol=rtol, atol=1e-12,
                                   err_msg=f"{per_area.unit} {col}")
    assert per_area.se_type == batched.se_type
    assert per_area.rows == batched.rows
    assert per_area.warnings == batched.warnings
    assert (per_area.unit, per_area.estimator, per_area.ci_level) == (batched.unit, batched.estimator, batched.ci_level)
    _close(per_area.diagnostics, batched.diagnostics, rtol)
    pd.testing.assert_frame_equal(per_area.plot_data["series"], batched.plot_data["series"], rtol=rtol, atol=1e-12)


CASES = [
    ("quasipoisson", "auto", {}),
    ("poisson", "auto", {"horizons": [1, 6, 40]}),
    ("poisson", "hac", {"slope_change": False, "rate_per": 1_000.0}),
    ("ols", "auto", {"horizons": [3, 12]}),
    ("ols", "nonrobust", {"rate_per": 100_000.0, "seasonality": "month"}),
    ("ols", "newey_west", {"start_extra": "2020-06"}),
]


@pytest.mark.parametrize(("model", "se", "extra"), CASES, ids=[f"{m}-{s}" for m, s, _ in CASES])
def test_batch_equals_its_per_area(model: str, se: str, extra: dict[str, Any]) -> None:
    data, starts = _panel(7, counts=model != "ols")
    extra = dict(extra)
    if "start_extra" in extra:  # a second interruption for every area
        later = extra.pop("start_extra")
        starts = {a: [s, later] for a, s in starts.items()}
    kwargs = {"outcome": "y", "model": model, "se": se, "population": "pop", "n_sim": 300, "seed": 5, **extra}
    batched = its_batch(data, start=starts, **kwargs)
    assert [r.unit for r in batched] == list(starts)
    assert all(r.model is None for r in batched)  # no statsmodels object for batched areas
    for r in batched:
        _same_result(its(_area(data, r.unit), start=starts[r.unit], unit=r.unit, **kwargs), r)


def test_missing_and_suppressed_cells_are_dropped_and_counted() -> None:
    data, starts = _panel(7, counts=True)
    results = {r.unit: r for r in its_batch(data, start=starts, outcome="y", model="quasipoisson",
                                             population="pop", placebo=False, n_sim=100)}
    assert results["E01"].rows.dropped == {"outcome missing": 1}
    assert results["E02"].rows.dropped == {"outcome suppressed": 1}
    assert results["E01"].rows.n_used == MONTHS - 1 and results["E00"].rows.dropped == {}
    assert len(results["E01"].plot_data["series"]) == MONTHS - 1


def test_glm_equals_statsmodels_per_area() -> None:
    """Coefficients and (Pearson-scaled) standard errors of GLM(Poisson, offset) per area."""
    data, starts = _panel(3, counts=True)
    for model, scale in (("poisson", None), ("quasipoisson", "X2")):
        results = its_batch(data, start=starts, outcome="y", model=model, population="pop", placebo=False, n_sim=0)
        for r in results:
            d = _area(data, r.unit).dropna(subset=["y"])
            coefs = r.diagnostics["coefficients"]
            periods = pd.PeriodIndex(d["period"])
            t = (periods.asi8 - pd.Period("2016-01", "M").ordinal + 1).astype(float)  # 1 = first month
            s = t[periods >= pd.Period(starts[r.unit], "M")][0]
            m = periods.month.to_numpy()
            x = np.column_stack([np.ones(len(t)), t, t >= s, (t - s + 1) * (t >= s),
                                 np.sin(2 * np.pi * m / 12), np.sin(4 * np.pi * m / 12),
                                 np.cos(2 * np.pi * m / 12), np.cos(4 * np.pi * m / 12)])
            ref = sm.GLM(d["y"].to_numpy(), x, family=sm.families.Poisson(), offset=np.log(d["pop"].to_numpy()))
            fit = ref.fit(scale=scale) if scale else ref.fit()
            np.testing.assert_allclose([c["estimate"] for c in coefs.values()], fit.params, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose([c["std_error"] for c in coefs.values()], fit.bse, rtol=1e-8)
            if model == "quasipoisson":
                assert r.diagnostics["dispersion"] == pytest.approx(fit.pearson_chi2 / fit.df_resid, rel=1e-9)


def test_area_with_zero_counts_after_the_start() -> None:
    """All-zero post-period: the MLE runs off to -infinity and IRLS stops on the deviance rule.

    statsmodels' own solvers (lstsq, pinv, qr) agree with each other only to ~1e-7 here; the batch
    matches them to that, and the simulated intervals (which reach 1e250, exp of huge draws) to
    ~1e-5. A few zeros in the post-period are an ordinary series and match like any other.
    """
    data, starts = _panel(11, counts=True)
    zero = (data["area_code"] == "E04") & (data["period"] >= pd.Period(starts["E04"], "M"))
    data.loc[zero, "y"] = 0.0
    some = (data["area_code"] == "E03") & (data["period"] >= pd.Period(starts["E03"], "M"))
    data.loc[some & (data.index % 3 == 0), "y"] = 0.0
    kwargs = {"outcome": "y", "model": "quasipoisson", "population": "pop", "n_sim": 200, "placebo": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in exp of huge draws, in both paths
        batched = {r.unit: r for r in its_batch(data, start=starts, **kwargs)}
        ref = its(_area(data, "E04"), start=starts["E04"], unit="E04", **kwargs)
    _same_result(its(_area(data, "E03"), start=starts["E03"], unit="E03", **kwargs), batched["E03"])
    ea, eb = ref.estimates.set_index("estimand"), batched["E04"].estimates.set_index("estimand")
    core = ["level_change", "rate_ratio", "slope_change", "slope_rate_ratio"]
    for col in ("estimate", "std_error", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(eb.loc[core, col], ea.loc[core, col], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(eb[col], ea[col], rtol=1e-4, atol=1e-12)
    assert ea.loc["rate_ratio", "estimate"] < 1e-6


def test_its_by_area_is_one_tidy_frame_of_the_same_estimates() -> None:
    data, starts = _panel(5, counts=True, n_areas=4)
    table = its_by_area(data, outcome="y", start=starts, population="pop", n_sim=200, seed=9)
    assert list(table.columns) == ["area", "start", "estimand", "estimate", "std_error", "ci_lower", "ci_upper",
                                   "ci_level", "p_value", "n_obs", "n_periods", "se_type", "note"]
    assert table["area"].unique().tolist() == list(starts)
    for code, rows in table.groupby("area", sort=False):
        ref = its(_area(data, str(code)), start=starts[str(code)], outcome="y", model="quasipoisson",
                  population="pop", placebo=False, n_sim=200, seed=9).estimates
        assert rows["estimand"].tolist() == ref["estimand"].tolist()
        assert (rows["start"] == starts[str(code)]).all()
        np.testing.assert_allclose(rows[["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]].to_numpy(float),
                                   ref[["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]].to_numpy(float),
                                   rtol=1e-7, atol=1e-12)
    quick = its_by_area(data, outcome="y", start=starts, population="pop", n_sim=0)
    assert not quick["estimand"].isin(["relative_change", "cumulative_averted", "cumulative_averted_per_100k"]).any()
    assert "relative_change_h12" in set(quick["estimand"])  # exact on the log scale, no simulation
    pd.testing.assert_frame_equal(
        quick.set_index(["area", "estimand"])[["estimate", "std_error"]],
        table.set_index(["area", "estimand"]).loc[quick.set_index(["area", "estimand"]).index, ["estimate", "std_error"]],
    )


def test_options_the_batch_does_not_cover_run_per_area() -> None:
    assert batch_supported("quasipoisson") and batch_supported("ols", "newey_west")
    assert not batch_supported("negbin") and not batch_supported("poisson", "newey_west")
    assert not batch_supported("ols", errors="arima") and not batch_supported("ols", covariates=["x"])
    data, starts = _panel(2, counts=True, n_areas=2)
    data["x"] = np.random.default_rng(0).normal(size=len(data))
    kwargs = {"outcome": "y", "model": "poisson", "population": "pop", "covariates": ["x"], "placebo": False,
              "n_sim": 100}
    [r0, r1] = its_batch(data, start=starts, **kwargs)
    assert r0.model is not None  # fitted by its() (statsmodels object kept)
    _same_result(its(_area(data, "E01"), start=starts["E01"], unit="E01", **kwargs), r1, rtol=0)


def test_exact_percentiles_and_rho() -> None:
    """Building blocks: numpy's percentile bit for bit; the design-adjusted rho of hac.py."""
    rng = np.random.default_rng(1)
    for n in (2, 7, 1000, 2000):
        a = rng.normal(size=(40, n)) * 3
        lo, hi = batch_module._row_percentiles(a, 0.95)
        ref = np.percentile(a, [(1 - 0.95) / 2 * 100, (1 + 0.95) / 2 * 100], axis=1)
        assert np.array_equal(lo, ref[0]) and np.array_equal(hi, ref[1])
        lo, hi = batch_module._row_percentiles(a, 0.9, transform=np.exp)
        ref = np.percentile(np.exp(a), [5.000000000000004, 95.0], axis=1)
        np.testing.assert_allclose(np.stack([lo, hi]), ref, rtol=1e-14)
    t = np.arange(1, 61.0)
    x = np.column_stack([np.ones(60), t, t >= 31, (t - 30) * (t >= 31), np.sin(t), np.cos(t)])
    rows = [np.delete(np.arange(60), [4, 40]), np.arange(60), np.delete(np.arange(60), [59])]
    n = np.array([len(r) for r in rows])
    stacked = np.zeros((3, 60, x.shape[1]))
    for i, r in enumerate(rows):
        stacked[i, : len(r)] = x[r]
    q, _ = batch_module._qr(stacked, np.arange(60)[None, :] < n[:, None])
    sa, sm_ = batch_module._moment_coefficients(q, n)
    for rho_true in (0.0, 0.5, 0.9):
        e = [np.convolve(rng.normal(size=len(r)), rho_true ** np.arange(30))[: len(r)] for r in rows]
        observed = np.array([(v[1:] @ v[:-1]) / (v @ v) for v in e])
        got = batch_module._solve_rho(sa, sm_, observed)
        np.testing.assert_allclose(got, [ar1_rho_given_design(x[r], v) for r, v in zip(rows, e, strict=True)],
                                   atol=1e-9)


@pytest.mark.parametrize(
    ("change", "kwargs", "phrase"),
    [
        ("drop_pop", {"population": "pop"}, r"column 'pop' is not in the data.*one row per area and period"),
        ("text_period", {}, r"column 'period' holds .* not periods; convert it with pd\.PeriodIndex"),
        ("duplicate", {}, r"area 'E00' has more than one row for period 2016-01; give one row per area"),
        ("none", {"start": {"E00": "2018-07"}}, r"start has no date for 1 area\(s\) \(E01\); give every area a start"),
        ("none", {"start": "2030-01"}, r"area 'E00': start 2030-01 is after the last period"),
        ("none", {"start": "2019-13"}, r"area 'E00': start '2019-13' is not a period of the data"),
        ("negative", {}, r"area 'E01': 'y' has negative values; count models need counts"),
        ("none", {"start": "2016-02"}, r"area 'E00': too few periods to fit 'y': 1 before"),
        ("none", {"model": "logit"}, r"its_batch: model must be one of \(ols, poisson"),
        ("none", {"se": "pearson", "model": "ols"}, r"se='pearson' applies to count models"),
        ("none", {"n_sim": -1}, r"n_sim must be 0 or more"),
        ("none", {"areas": ["E00", "E09"]}, r"1 area\(s\) have no rows in the data \(E09\); drop them from areas"),
        ("none", {"covariates": ["unemp"]}, r"covariate 'unemp' is not in the data"),
    ],
)
def test_bad_input_is_refused_with_the_fix(change: str, kwargs: dict[str, Any], phrase: str) -> None:
    data, starts = _panel(1, counts=True, n_areas=2)
    if change == "drop_pop":
        data = data.drop(columns="pop")
    elif change == "text_period":
        data["period"] = data["period"].astype(str)
    elif change == "duplicate":
        data = pd.concat([data, data.iloc[:1]], ignore_index=True)
    elif change == "negative":
        data.loc[data.index[MONTHS + 3], "y"] = -2.0
    args: dict[str, Any] = {"outcome": "y", "start": starts, "model": "poisson", "population": "pop", "placebo": False,
                            "n_sim": 0}
    args.update(kwargs)
    with pytest.raises(AnalysisError, match=phrase):
        its_batch(data, **args)


# --- the pipeline: unit: each_treated through the batch, and with the batch switched off ---------


def _pipeline_files() -> dict[str, str]:
    from tests.test_its_pipeline import _long_files

    files = _long_files()
    lines = files["data/harm.csv"].splitlines()
    for i in range(1, len(lines)):
        area, period, overdoses, _ = lines[i].split(",")
        if area == "A1" and period in ("2016-03", "2019-09") or area == "A2" and period == "2017-05":
            lines[i] = f"{area},{period},{overdoses},[c]"  # suppressed cells (declared marker)
    files["data/harm.csv"] = "\n".join(lines) + "\n"
    return files


def _pipeline(make_project: Any, analysis: dict[str, Any]) -> list[Any]:
    from evaluate.config.loader import load_config
    from evaluate.pipeline.analyses import check_all, run_all
    from evaluate.pipeline.prepare import prepare

    cfg = {
        "interventions": [{"name": "rollout", "adoption": "adoption", "phase_in": {"periods": 2, "handling": "exclude"}}],
        "analyses": [{"name": "each", "method": "its", "intervention": "rollout", "unit": "each_treated", **analysis}],
    }
    prepared = prepare(load_config(make_project(files=_pipeline_files(), config=cfg)))
    check_all(prepared)
    return run_all(prepared)


def test_pipeline_each_treated_is_the_same_with_and_without_the_batch(make_project: Any, monkeypatch: Any) -> None:
    import evaluate.pipeline.methods.its as method

    analysis = {
        "outcomes": ["nonfatal_overdoses", "drug_poisoning_deaths", "nonfatal_overdoses_rate"],
        "n_sim": 200,
        "horizons": [3, 12],
        "additional_interruptions": [{"start": "2020-03", "label": "scale-up"}],
    }
    calls: list[str] = []
    real = batch_module.its_batch

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["outcome"])
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "its_batch", spy)
    batched = _pipeline(make_project, analysis)
    assert calls == analysis["outcomes"]
    monkeypatch.setattr(method, "BATCH_EACH_TREATED", False)
    per_area = _pipeline(make_project, analysis)
    assert calls == analysis["outcomes"]  # not called again
    assert [(r.unit, r.outcome) for r in per_area] == [(r.unit, r.outcome) for r in batched]
    assert [r.unit for r in batched] == ["A1", "A1", "A1", "A2", "A2", "A2"]
    for a, b in zip(per_area, batched, strict=True):
        _same_result(a, b)
        assert (a.analysis, a.intervention, a.outcome_role, a.outcome_label) == (
            b.analysis, b.intervention, b.outcome_role, b.outcome_label)
    deaths = next(r for r in batched if r.outcome == "drug_poisoning_deaths" and r.unit == "A1")
    assert deaths.rows.dropped["series periods: outcome suppressed"] == 2
    assert "(scale-up)" in deaths.estimates.set_index("estimand").loc["level_change_2", "note"]
    starts = {r.unit: r.diagnostics["interruptions"][0]["label"] for r in batched}
    assert starts == {"A1": "2019-01", "A2": "2019-07"}
