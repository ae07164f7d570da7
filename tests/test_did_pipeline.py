"""`method: did` through the pipeline, the demo's diversion rollout, and PPML against pyfixest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluate.config.loader import LoadedConfig, parse_config
from evaluate.demo import DATA_DIR, demo_config_path
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


def _analysis(**kw: Any) -> dict[str, Any]:
    base = {"name": "div", "method": "did", "intervention": "diversion", "exclude_treated_by": ["crackdown"],
            "outcomes": ["nonfatal_overdoses_rate"], "bootstrap": 199}
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "truth.csv").set_index(["intervention", "variable"])


def test_demo_diversion_recovers_planted_effects(truth: pd.DataFrame) -> None:
    """Callaway-Sant'Anna on the diversion rollout covers data/truth.csv's expected ATT per 100,000."""
    outcomes = ["nonfatal_overdoses_rate", "treatment_referrals_cj_rate", "drug_stop_search_rate"]
    prepared = _demo_with([_analysis(outcomes=outcomes, unbalanced="drop_units")])
    for r in run_all(prepared):
        row = r.estimates.set_index("estimand").loc["att"]
        expected = truth.loc[("diversion", r.outcome.removesuffix("_rate")), "expected_att_rate_per_100k"]
        assert row["ci_lower"] <= expected <= row["ci_upper"], (r.outcome, row.to_dict(), expected)


def test_each_estimator_runs_on_the_demo() -> None:
    analyses = [
        _analysis(name="twfe", estimator="twfe"),
        _analysis(name="es", estimator="event_study", window=[-12, 24], se="cluster"),
        _analysis(name="sa", estimator="sun_abraham", window=[-12, 24]),
        _analysis(name="ppml", estimator="poisson", outcomes=["nonfatal_overdoses"]),
    ]
    results = {r.analysis: r for r in run_all(_demo_with(analyses))}
    assert results["twfe"].estimator == "twfe" and "bacon" in results["twfe"].diagnostics
    assert "wild cluster restricted bootstrap" in results["twfe"].se_type  # 44 clusters < 50
    assert results["es"].diagnostics["pretrend"]["df"] > 0
    rr = results["ppml"].estimates.set_index("estimand").loc["rate_ratio"]
    assert rr["ci_lower"] < 0.95 and rr["ci_upper"] < 1.0  # truth: 0.90 at full ramp
    for r in results.values():
        assert r.rows.n_input == r.rows.n_used + sum(r.rows.dropped.values())


@pytest.mark.parametrize(
    ("analysis", "interventions", "error", "phrase"),
    [
        (_analysis(estimator="poisson"), {}, ConfigError, "poisson needs a count outcome .* use the count 'nonfatal_overdoses'"),
        (_analysis(outcomes=["drug_poisoning_deaths_rate"]), {}, AnalysisError, r"missing \(or suppressed\) in .* set unbalanced: drop_units"),
        (_analysis(), {"diversion": {"phase_in": {"periods": 6, "handling": "exclude"}}}, ConfigError,
         "callaway_santanna needs every period .* set its phase_in.handling: flag"),
        (_analysis(covariates=["unemployment_rate"]), {}, ConfigError, "covariates: 'unemployment_rate' is not a column"),
    ],
)
def test_checks_before_fitting(analysis: dict[str, Any], interventions: dict[str, Any], error: type, phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        _demo_with([analysis], **interventions)


def test_config_rejects_a_bad_window() -> None:
    raw = yaml.safe_load(demo_config_path().read_text())
    raw["analyses"] = [_analysis(estimator="event_study", window=[2, 5])]
    with pytest.raises(ConfigError, match=r"window must be \[lowest lead, highest lag\] around -1"):
        parse_config(raw)


def test_unbalanced_drop_units_counts_areas() -> None:
    prepared = _demo_with([_analysis(outcomes=["drug_poisoning_deaths_rate"], unbalanced="drop_units", bootstrap=0)])
    [r] = run_all(prepared)
    assert r.rows.dropped["units with missing outcomes"] > 0
    assert r.rows.n_input == r.rows.n_used + sum(r.rows.dropped.values())


def _ppml_case() -> pd.DataFrame:
    prepared = _demo_with([_analysis(estimator="poisson", outcomes=["nonfatal_overdoses"])])
    d = prepared.main.data
    d = d[d["area_code"] != "SIM26"][["area_code", "t", "nonfatal_overdoses", "diversion__post", "population"]].copy()
    return d.assign(D=d["diversion__post"].astype(float))


def test_poisson_agrees_with_pyfixest() -> None:
    """Frozen pyfixest 0.60.0 fepois numbers (tests/data/ppml_pyfixest_reference.md).

    Coefficient to 1e-6 relative; standard error to 1e-6 relative after converting the
    small-sample factor from our convention (K = 152, every parameter) to fixest's (K = 109).
    """
    from evaluate.estimators.did_poisson import poisson_did

    d = _ppml_case()
    assert len(d) == 4752
    r = poisson_did(d, outcome="nonfatal_overdoses", treatment="D", population="population")
    coef = r.diagnostics["coefficient"]
    se = float(r.estimates["std_error"].iloc[0])
    n, k_ours, k_fixest = 4752, 152, 109
    assert coef == pytest.approx(-0.08931159335003083, rel=1e-6)
    assert se * np.sqrt((n - k_ours) / (n - k_fixest)) == pytest.approx(0.013932804308230433, rel=1e-6)
