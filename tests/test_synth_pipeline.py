"""`method: synthetic_control` through the pipeline: the demo's crackdown, config checks, labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluate.config.loader import LoadedConfig, parse_config
from evaluate.demo import demo_config_path
from evaluate.demo.generate import generate
from evaluate.errors import AnalysisError, ConfigError
from evaluate.pipeline.analyses import check_all, run_all
from evaluate.pipeline.prepare import prepare


def _demo_with(analyses: list[dict[str, Any]], **interventions: Any) -> Any:
    raw = yaml.safe_load(demo_config_path().read_text())
    raw["analyses"] = analyses
    for item in raw["interventions"]:
        item.update(interventions.get(item["name"], {}))
    loaded = LoadedConfig(parse_config(raw), demo_config_path(), demo_config_path().parent, "test")
    prepared = prepare(loaded)
    check_all(prepared)
    return prepared


def _sc(**kw: Any) -> dict[str, Any]:
    base = {"name": "sc", "method": "synthetic_control", "intervention": "crackdown",
            "exclude_treated_by": ["diversion"], "outcomes": ["supply_arrests_rate"]}
    base.update(kw)
    return base


def _planted(variable: str) -> float:
    """The planted crackdown effect per 100,000 in SIM26, averaged over the months the analysis
    evaluates (October 2021 on: the three phase-in months are left out), from the generator's
    expected values with and without the intervention."""
    e = generate()["expected"]
    e = e[(e["variable"] == variable) & (e["frequency"] == "month") & (e["area_code"] == "SIM26")]
    e = e[e["period"].astype(str) >= "2021-10"]
    return float(((e["mu"] - e["mu_counterfactual"]) / e["population"] * 1e5).mean())


@pytest.fixture(scope="module")
def demo_results() -> dict[tuple[str, str], Any]:
    raw = yaml.safe_load(demo_config_path().read_text())
    analyses = [a for a in raw["analyses"] if a["method"] == "synthetic_control"]
    assert {a["estimator"] for a in analyses} == {"sdid", "sc"}
    return {(r.analysis, r.outcome): r for r in run_all(_demo_with(analyses))}


@pytest.mark.parametrize(
    ("analysis", "variable"),
    [("crackdown_sdid", "supply_arrests"), ("crackdown_sdid", "drug_seizures"), ("crackdown_sc", "supply_arrests")],
)
def test_demo_crackdown_recovers_the_planted_effect(demo_results: dict, analysis: str, variable: str) -> None:
    r = demo_results[(analysis, f"{variable}_rate")]
    row = r.estimates.set_index("estimand").loc["att"]
    truth = _planted(variable)
    assert truth > 0
    assert row["ci_lower"] <= truth <= row["ci_upper"], (analysis, variable, row.to_dict(), truth)


def test_demo_overdoses_flag_the_poor_pre_period_fit(demo_results: dict) -> None:
    """SIM26's simulated overdose trend is the steepest of the 45 areas (a chance draw of the
    area-level trend noise), so no weighted mix of donors tracks it and the estimate runs high;
    the tool must say so rather than report a clean effect."""
    for name in ("crackdown_sdid", "crackdown_sc"):
        r = demo_results[(name, "nonfatal_overdoses_rate")]
        assert r.diagnostics["poor_pre_fit"] is True
        assert any(w.startswith("poor pre-period fit") for w in r.warnings)
        assert r.estimates.set_index("estimand").loc["att", "estimate"] > _planted("nonfatal_overdoses")


def test_demo_result_shape_and_labels(demo_results: dict) -> None:
    r = demo_results[("crackdown_sdid", "supply_arrests_rate")]
    assert r.method == "synthetic_control" and r.estimator == "sdid"
    est = r.estimates.set_index("estimand")
    # the phase-in months (event times 0-2) are left out; event time counts from July 2021
    assert "att_e0" not in est.index and "att_e3" in est.index
    assert "2021-10 (event time 3)" in est.loc["att_e3", "note"]
    series = r.plot_data["series"]
    assert series.loc[series["period"] == "2021-10", "event_time"].item() == 3
    assert set(series["cohort"]) == {"2021-07"}
    w = r.plot_data["weights"]
    assert np.isclose(w["weight"].sum(), 1.0) and (w["weight"] >= 0).all()
    assert "SIM26" not in set(w["area"])
    assert r.diagnostics["time_weights"] and all(k < "2021-07" for k in r.diagnostics["time_weights"])
    assert r.rows.n_input == r.rows.n_used + sum(r.rows.dropped.values())
    assert r.rows.dropped["phase-in periods (left out of every area's series)"] == 3 * 18
    assert 0 < r.diagnostics["in_space_placebo"]["p_value"] <= 1


def test_staggered_adoption_by_cohort() -> None:
    prepared = _demo_with([_sc(intervention="diversion", exclude_treated_by=["crackdown"], estimator="did",
                               outcomes=["nonfatal_overdoses_rate"], n_placebo=20, leave_one_out=False)])
    [r] = run_all(prepared)
    est = r.estimates.set_index("estimand")
    cohorts = [e for e in est.index if e.startswith("att_g")]
    assert cohorts == ["att_g2018-04", "att_g2019-10", "att_g2021-04", "att_g2022-10"]
    assert all("cohort starting 20" in w for w in r.warnings if "cohort starting" in w)
    assert set(r.plot_data["series"]["cohort"]) == {c.removeprefix("att_g") for c in cohorts}


@pytest.mark.parametrize(
    ("analysis", "interventions", "error", "phrase"),
    [
        (_sc(predictors=["drug_stop_search_rate"]), {}, ConfigError, "predictors are matched by estimator sc only"),
        (_sc(estimator="sc", predictors=["unemployment"]), {}, ConfigError, "'unemployment' is not a column"),
        (_sc(outcomes=["drug_poisoning_deaths_rate"]), {}, AnalysisError, "set unbalanced: drop_units"),
        (_sc(intervention="diversion", exclude_treated_by=["crackdown"]),
         {"diversion": {"phase_in": {"periods": 6, "handling": "exclude"}}}, ConfigError,
         "phase-in periods, which differ by cohort; set its phase_in.handling: flag"),
        (_sc(exclude_areas=[f"SIM{i:02d}" for i in range(1, 46) if i not in (26, 5)], exclude_treated_by=[]),
         {}, AnalysisError, "1 untreated area left as donors .* needs at least 2"),
    ],
)
def test_checks_before_fitting(analysis: dict[str, Any], interventions: dict[str, Any], error: type, phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        _demo_with([analysis], **interventions)


def test_unbalanced_drop_units_drops_donors_and_counts_them() -> None:
    prepared = _demo_with([_sc(outcomes=["drug_poisoning_deaths_rate"], unbalanced="drop_units", estimator="did",
                               n_placebo=20)])
    [r] = run_all(prepared)
    [(_why, n)] = [(k, v) for k, v in r.rows.dropped.items() if k.startswith("donor areas with a missing")]
    assert n > 0 and n % 105 == 0
    assert r.rows.n_input == r.rows.n_used + sum(r.rows.dropped.values())


def test_count_outcome_warns_about_area_size() -> None:
    [r] = run_all(_demo_with([_sc(outcomes=["supply_arrests"], estimator="did", n_placebo=20)]))
    assert any("'supply_arrests' is a count" in w for w in r.warnings)


def test_notebook_entry_point_is_exported() -> None:
    import evaluate

    assert evaluate.synthetic_control.__module__ == "evaluate.estimators.synth"
    frame = pd.DataFrame({"area_code": np.repeat(["A", "B", "C"], 4), "period": np.tile([1, 2, 3, 4], 3),
                          "y": [1.0, 2, 3, 9, 1, 2, 3, 4, 2, 3, 4, 5]})
    r = evaluate.synthetic_control(frame, outcome="y", treated_areas=["A"], start=4, estimator="did", placebo=False)
    assert r.estimates.set_index("estimand").loc["att", "estimate"] == pytest.approx(5.0)
