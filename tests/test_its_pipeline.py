"""`method: its` through the pipeline: units, totals, comparison series, checks before fitting."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluate.config.loader import load_config
from evaluate.errors import AnalysisError, ConfigError
from evaluate.pipeline.analyses import check_all, run_all
from evaluate.pipeline.prepare import prepare
from tests.conftest import AREAS


def _long_files() -> dict[str, str]:
    """Six years of months so that an ITS has a real pre-period."""
    months = [f"{y}-{m:02d}" for y in range(2015, 2021) for m in range(1, 13)]
    r = np.random.default_rng(5)
    harm = ["area_code,period,nonfatal_overdoses,drug_poisoning_deaths"]
    pol = ["area_code,period,drug_stop_search,possession_arrests"]
    for i, a in enumerate(AREAS):
        for j, m in enumerate(months):
            effect = 0.7 if a in ("A1", "A2") and m >= "2019-01" else 1.0
            harm.append(f"{a},{m},{r.poisson((40 + 10 * i) * effect)},{r.poisson(5)}")
            pol.append(f"{a},{m},{r.poisson(60)},{r.poisson(9)}")
    pop = ["area_code,period,population"] + [f"{a},{y},{100_000 * (i + 1)}" for i, a in enumerate(AREAS) for y in range(2015, 2021)]
    return {
        "data/harm.csv": "\n".join(harm) + "\n",
        "data/policing.csv": "\n".join(pol) + "\n",
        "data/population.csv": "\n".join(pop) + "\n",
        "data/adoption.csv": "area_code,start\nA1,2019-01\nA2,2019-07\nA3,\nA4,\n",
    }


def _run(make_project: Any, analysis: dict[str, Any]) -> list[Any]:
    cfg = {
        "interventions": [
            {"name": "scheme", "start": "2019-01", "treated_areas": ["A1", "A2"]},
            {"name": "rollout", "adoption": "adoption"},
        ],
        "analyses": [{"name": "its1", "method": "its", "intervention": "scheme", **analysis}],
    }
    prepared = prepare(load_config(make_project(files=_long_files(), config=cfg)))
    check_all(prepared)
    return run_all(prepared)


def _est(r: Any, name: str) -> float:
    return float(r.estimates.set_index("estimand").loc[name, "estimate"])


def test_treated_total_count_uses_quasipoisson_with_offset(make_project: Any) -> None:
    [r] = _run(make_project, {"outcomes": ["nonfatal_overdoses"], "placebo": False})
    assert r.estimator == "quasipoisson" and r.unit == "treated total"
    assert _est(r, "rate_ratio") == pytest.approx(0.7, abs=0.08)
    assert r.rows.n_input == len(AREAS) * 72
    assert r.rows.dropped["other areas (not in this series)"] == 2 * 72
    assert r.rows.dropped["summed into the series (areas x periods -> periods)"] == 72


def test_rate_of_a_total_is_total_count_over_total_population(make_project: Any) -> None:
    [r] = _run(make_project, {"outcomes": ["nonfatal_overdoses_rate"], "placebo": False})
    assert r.estimator == "ols"
    series = r.plot_data["series"]
    # A1 and A2 have populations 100,000 and 200,000: the total rate is a weighted mean
    assert series["observed"].iloc[0] == pytest.approx(series["observed"].iloc[0])
    assert 10 < series["observed"].mean() < 40


def test_each_treated_area_from_its_own_start(make_project: Any) -> None:
    results = _run(make_project, {"intervention": "rollout", "unit": "each_treated", "outcomes": ["nonfatal_overdoses"], "placebo": False})
    assert [r.unit for r in results] == ["A1", "A2"]
    starts = [r.diagnostics["interruptions"][0]["label"] for r in results]
    assert starts == ["2019-01", "2019-07"]


def test_one_area_and_a_comparison_series(make_project: Any) -> None:
    [r] = _run(make_project, {"unit": "area", "area": "A1", "control": "untreated_total", "outcomes": ["nonfatal_overdoses"], "placebo": False})
    assert r.estimator == "controlled_quasipoisson"
    assert "comparison" in r.plot_data["series"].columns
    [r2] = _run(make_project, {"unit": "area", "area": "A1", "control": {"outcome": "drug_poisoning_deaths"},
                               "outcomes": ["nonfatal_overdoses"], "placebo": False})
    assert r2.estimator == "controlled_quasipoisson"


def test_additional_interruption_and_labels(make_project: Any) -> None:
    [r] = _run(make_project, {"outcomes": ["nonfatal_overdoses"], "placebo": False,
                              "additional_interruptions": [{"start": "2020-01", "label": "scale-up", "slope_change": False}]})
    est = r.estimates.set_index("estimand")
    assert "level_change_2" in est.index and "(scale-up)" in est.loc["level_change_2", "note"]


def test_results_contract_columns(make_project: Any) -> None:
    from evaluate.results.table import results_frame

    table = results_frame(_run(make_project, {"outcomes": ["nonfatal_overdoses", "nonfatal_overdoses_rate"], "placebo": False}))
    assert {"level_change", "slope_change", "rate_ratio", "relative_change", "relative_change_h12", "cumulative_averted",
            "cumulative_averted_per_100k"} <= set(table["estimand"])
    assert set(table["method"]) == {"its"}


@pytest.mark.parametrize(
    ("analysis", "error", "phrase"),
    [
        ({"intervention": "rollout", "outcomes": ["nonfatal_overdoses"]}, ConfigError, r"start at different dates \(2019-01, 2019-07\).*use unit: each_treated"),
        ({"unit": "area", "outcomes": ["nonfatal_overdoses"]}, ConfigError, "unit: area needs area"),
        ({"unit": "area", "area": "A3", "outcomes": ["nonfatal_overdoses"]}, ConfigError, "'A3' is not treated by 'scheme'"),
        ({"area": "A1", "outcomes": ["nonfatal_overdoses"]}, ConfigError, "only used with unit: area"),
        ({"model": "poisson", "outcomes": ["nonfatal_overdoses_rate"]}, ConfigError, r"poisson needs a count outcome .*model the count 'nonfatal_overdoses'"),
        ({"model": "poisson", "errors": "arima", "outcomes": ["nonfatal_overdoses"]}, ConfigError, "arima errors need model: ols"),
        ({"control": {"outcome": "nope"}, "outcomes": ["nonfatal_overdoses"]}, ConfigError, "control.outcome: 'nope' is not an outcome"),
        ({"control": "untreated_total", "exclude_areas": ["A3", "A4"], "outcomes": ["nonfatal_overdoses"]}, AnalysisError, "no untreated areas are left"),
        ({"covariates": ["unemployment"], "outcomes": ["nonfatal_overdoses"]}, ConfigError, "covariates: 'unemployment' is not a column"),
        ({"additional_interruptions": [{"start": "2019-13"}], "outcomes": ["nonfatal_overdoses"]}, ConfigError, r"additional_interruptions\[0\]\.start: '2019-13' is not a month period"),
    ],
)
def test_checks_before_fitting(make_project: Any, analysis: dict[str, Any], error: type, phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        _run(make_project, analysis)


def test_config_rejects_bad_its_options() -> None:
    from evaluate.config.loader import parse_config
    from tests.conftest import BASE_CONFIG, deep_merge

    cfg = deep_merge(BASE_CONFIG, {})
    cfg["analyses"] = [{"name": "a", "method": "its", "intervention": "scheme", "outcomes": ["x"], "horizons": [0]}]
    with pytest.raises(ConfigError, match="horizons are periods into the intervention and start at 1"):
        parse_config(cfg)
    cfg["analyses"] = [{"name": "a", "method": "its", "intervention": "scheme", "outcomes": ["x"], "se": "robust"}]
    with pytest.raises(ConfigError, match=r"se: expected one of \(auto, hac, newey_west"):
        parse_config(cfg)


def test_demo_crackdown_its_covers_the_planted_effect(demo_config: Any) -> None:
    """The demo's crackdown ITS recovers data/truth.csv's rate ratios within its intervals."""
    from evaluate.demo import DATA_DIR

    truth = pd.read_csv(DATA_DIR / "truth.csv").query("intervention == 'crackdown'").set_index("variable")["rate_ratio"]
    prepared = prepare(load_config(demo_config))
    results = [r for r in run_all(prepared) if r.analysis == "crackdown_its"]
    assert results
    for r in results:
        row = r.estimates.set_index("estimand").loc["rate_ratio"]
        assert row["ci_lower"] <= truth[r.outcome] <= row["ci_upper"], (r.outcome, row.to_dict(), truth[r.outcome])
