"""Derived columns: rates, intervention timing (single, staggered, phase-in), the harm index."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluate.config.loader import load_config
from evaluate.errors import AnalysisError, ConfigError
from evaluate.pipeline.prepare import prepare


def _prepare(make_project: Any, **kw: Any) -> Any:
    return prepare(load_config(make_project(**kw)))


def test_rates_per_100000(make_project: Any) -> None:
    data = _prepare(make_project).main.data
    expected = data["nonfatal_overdoses"] / data["population"] * 100_000
    np.testing.assert_allclose(data["nonfatal_overdoses_rate"], expected)


def test_rates_of_suppressed_counts_are_missing(make_project: Any) -> None:
    data = _prepare(make_project).main.data
    sup = data["drug_poisoning_deaths__suppressed"]
    assert sup.any()
    assert data.loc[sup, "drug_poisoning_deaths_rate"].isna().all()


def test_rate_multiplier_is_configurable(make_project: Any) -> None:
    data = _prepare(make_project, config={"data": {"rate_per": 1000}}).main.data
    np.testing.assert_allclose(data["drug_stop_search_rate"], data["drug_stop_search"] / data["population"] * 1000)


def test_population_is_interpolated_between_mid_years(make_project: Any) -> None:
    data = _prepare(make_project).main.data
    a1 = data[data["area_code"] == "A1"].set_index("period_label")["population"]
    # 100,000 in 2019 and 101,000 in 2020 (mid-year): flat before mid-2019, rising through to mid-2020
    assert a1["2019-01"] == a1["2019-06"] == 100_000
    assert 100_000 < a1["2019-12"] < a1["2020-03"] < 101_000
    assert a1["2020-12"] == 101_000


def test_single_start_timing(make_project: Any) -> None:
    prepared = _prepare(make_project)
    data = prepared.main.data
    a1 = data[data["area_code"] == "A1"].set_index("period_label")
    assert a1.loc["2019-12", "scheme__post"] == False  # noqa: E712
    assert a1.loc["2020-01", "scheme__post"] == True  # noqa: E712
    assert a1.loc["2020-01", "scheme__event_time"] == 0
    assert a1.loc["2019-11", "scheme__event_time"] == -2
    assert a1.loc["2020-01", "scheme__start"] == "2020-01"
    a3 = data[data["area_code"] == "A3"]
    assert not a3["scheme__treated"].any() and a3["scheme__event_time"].isna().all()
    t = prepared.timings["scheme"]["month"]
    assert t.treated_areas == ["A1", "A2"] and t.never_treated == ["A3", "A4"]


def test_staggered_timing_from_adoption_table(make_project: Any) -> None:
    prepared = _prepare(make_project)
    t = prepared.timings["rollout"]["month"]
    assert t.kind == "staggered adoption"
    assert t.cohorts == {"2020-01": ["A1"], "2020-04": ["A2"]}
    data = prepared.main.data
    a2 = data[data["area_code"] == "A2"].set_index("period_label")
    assert a2.loc["2020-03", "rollout__post"] == False  # noqa: E712
    assert a2.loc["2020-04", "rollout__cohort"] == 15  # t of April 2020 from January 2019


def test_phase_in_is_flagged(make_project: Any) -> None:
    cfg = {"interventions": [{"name": "scheme", "start": "2020-01", "treated_areas": ["A1", "A2"], "phase_in": {"periods": 2}}, {"name": "rollout", "adoption": "adoption"}]}
    data = _prepare(make_project, config=cfg).main.data
    a1 = data[data["area_code"] == "A1"].set_index("period_label")
    assert a1.loc[["2020-01", "2020-02"], "scheme__phase_in"].all()
    assert not a1.loc["2020-03", "scheme__phase_in"]


def test_quarterly_placement_notes_partial_periods(make_project: Any) -> None:
    files = {"data/admissions.csv": "area_code,period,drug_related_admissions\n" + "".join(
        f"{a},{y}Q{q},{50 + q}\n" for a in ["A1", "A2", "A3", "A4"] for y in (2019, 2020) for q in range(1, 5))}
    cfg = {"data": {"sources": [
        {"name": "areas", "path": "data/areas.csv", "entity": "area_lookup"},
        {"name": "population", "path": "data/population.csv", "entity": "population"},
        {"name": "policing", "path": "data/policing.csv", "entity": "policing_activity"},
        {"name": "harm", "path": "data/harm.csv", "entity": "harm_outcomes"},
        {"name": "adoption", "path": "data/adoption.csv", "entity": "adoption_table"},
        {"name": "admissions", "path": "data/admissions.csv", "entity": "harm_outcomes", "frequency": "quarter"},
    ]}}
    prepared = _prepare(make_project, files=files, config=cfg)
    assert list(prepared.panels) == ["month", "quarter"]
    assert "drug_related_admissions" not in prepared.main.data.columns
    q = prepared.panels["quarter"].data
    assert q.loc[q["area_code"] == "A2", "rollout__start"].iloc[0] == "2020Q2"
    notes = prepared.timings["rollout"]["quarter"].notes
    assert any("only partly treated" in n for n in notes)


@pytest.mark.parametrize(
    ("intervention", "phrase"),
    [
        ({"name": "scheme", "start": "2020-01", "treated_areas": ["A11"]}, r"treated_areas: 'A11' not in the panel \(did you mean 'A1'\?\); fix the code, or add the area to source 'areas' \(where the panel's areas come from: A1, A2, A3, A4\)"),
        ({"name": "scheme", "start": "2020-01", "treated_areas": ["Q"]}, r"treated_areas: 'Q' not in the panel; fix the code"),
        ({"name": "scheme", "start": "2019-01", "treated_areas": ["A1"]}, r"start 2019-01 is the first period of the data \(2019-01 to 2020-12\), which leaves no pre-period"),
        ({"name": "scheme", "start": "2023-01", "treated_areas": ["A1"]}, r"start 2023-01 is after the last period of the data \(2019-01 to 2020-12\)"),
        ({"name": "scheme", "start": "2020-13", "treated_areas": ["A1"]}, r"start: '2020-13' is not a month period; write it like '2021-07'"),
    ],
)
def test_bad_intervention_timing(make_project: Any, intervention: dict[str, Any], phrase: str) -> None:
    cfg = {"interventions": [intervention, {"name": "rollout", "adoption": "adoption"}]}
    with pytest.raises((AnalysisError, ConfigError), match=phrase):
        _prepare(make_project, config=cfg)


def test_adoption_areas_must_exist(make_project: Any) -> None:
    files = {"data/adoption.csv": "area_code,start\nA1,2020-01\nB7,2020-02\n"}
    # an unknown area in the adoption table is caught by validation (unknown_area)
    from evaluate.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="unknown_area"):
        _prepare(make_project, files=files)


def test_no_never_treated_areas_is_noted(make_project: Any) -> None:
    files = {"data/adoption.csv": "area_code,start\nA1,2020-01\nA2,2020-04\nA3,2020-06\nA4,2020-09\n"}
    t = _prepare(make_project, files=files).timings["rollout"]["month"]
    assert t.never_treated == []
    assert any("no never-treated areas" in n for n in t.notes)


def test_harm_index_is_a_weighted_sum_with_components(make_project: Any) -> None:
    prepared = _prepare(make_project)
    data = prepared.main.data
    expected = 100 * data["drug_poisoning_deaths"] + 1 * data["nonfatal_overdoses"]
    np.testing.assert_allclose(data["harm_index"], expected)
    np.testing.assert_allclose(data["harm_index__nonfatal_overdoses"], data["nonfatal_overdoses"])
    h = prepared.harm_indices["month"][0]
    assert h.source == "test fixture" and h.weights == {"drug_poisoning_deaths": 100, "nonfatal_overdoses": 1}
    assert h.cells_suppressed == int(data["harm_index__suppressed"].sum()) > 0


def test_harm_index_carries_suppression_bounds(make_project: Any) -> None:
    data = _prepare(make_project).main.data
    sup = data["harm_index__suppressed"]
    assert data.loc[sup, "harm_index"].isna().all()
    lo, hi = data.loc[sup, "harm_index__lower"], data.loc[sup, "harm_index__upper"]
    np.testing.assert_allclose(lo, 100 * 0 + data.loc[sup, "nonfatal_overdoses"])
    np.testing.assert_allclose(hi, 100 * 2 + data.loc[sup, "nonfatal_overdoses"])


def test_activity_in_harm_weights_is_refused(make_project: Any) -> None:
    files = {"weights.yaml": "name: w\nsource: s\nunit: u\nweights:\n  drug_stop_search: 1\n"}
    with pytest.raises(ConfigError, match=r"'drug_stop_search' has role activity; only harm variables can be components.*enforcement_harm"):
        _prepare(make_project, files=files)


def test_enforcement_harm_term_admits_activity(make_project: Any) -> None:
    files = {"enforcement.yaml": "name: e\nsource: illustrative\nunit: days\nweights:\n  drug_stop_search: 0.5\n"}
    prepared = _prepare(make_project, files=files, config={"harm_index": {"enforcement_harm": {"weights": "enforcement.yaml"}}})
    data = prepared.main.data
    np.testing.assert_allclose(
        data["harm_index"], 100 * data["drug_poisoning_deaths"] + data["nonfatal_overdoses"] + 0.5 * data["drug_stop_search"]
    )
    assert prepared.harm_indices["month"][0].enforcement_weights == {"drug_stop_search": 0.5}


def test_harm_in_enforcement_weights_is_refused(make_project: Any) -> None:
    files = {"enforcement.yaml": "name: e\nsource: s\nunit: u\nweights:\n  nonfatal_overdoses: 1\n"}
    with pytest.raises(ConfigError, match="enforcement-harm term takes activity variables only"):
        _prepare(make_project, files=files, config={"harm_index": {"enforcement_harm": {"weights": "enforcement.yaml"}}})


@pytest.mark.parametrize(
    ("weights", "phrase"),
    [
        ("name: w\nunit: u\nweights:\n  nonfatal_overdoses: 1\n", r"source: Field required\. Weights files need name, source, unit and weights"),
        ("name: w\nsource: s\nunit: u\nweights:\n  nonfatal_overdoses: -1\n", r"weight of 'nonfatal_overdoses' is -1.0; weights must be positive"),
        ("name: w\nsource: s\nunit: u\nweights:\n  nonfatal_overdose: 1\n", r"harm_index\.weights: 'nonfatal_overdose' is weighted but no source provides it \(did you mean 'nonfatal_overdoses'\?\); add a source"),
        ("name: w\nsource: s\nunit: u\nweights: {}\n", r"weights: .*at least 1 item"),
    ],
)
def test_bad_weights_files(make_project: Any, weights: str, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        _prepare(make_project, files={"weights.yaml": weights})


def test_alternative_weights_give_another_column(make_project: Any) -> None:
    files = {"alt.yaml": "name: alt\nsource: s\nunit: u\nweights:\n  nonfatal_overdoses: 2\n"}
    data = _prepare(make_project, files=files, config={"harm_index": {"alternatives": {"harm_alt": "alt.yaml"}}}).main.data
    np.testing.assert_allclose(data["harm_alt"], 2 * data["nonfatal_overdoses"])


def test_index_with_a_component_at_another_frequency_lives_in_that_panel(demo_config: Any) -> None:
    prepared = prepare(load_config(demo_config))
    assert "harm_index" not in prepared.main.data.columns
    assert "harm_index" in prepared.panels["quarter"].data.columns
    assert any("not built in the month panel" in n for n in prepared.main.report.notes)
    assert isinstance(prepared.panels["quarter"].data["harm_index_rate"], pd.Series)


def test_phase_in_counts_months_on_the_quarterly_panel() -> None:
    """phase_in.periods counts data.frequency periods: the demo crackdown's three months from July
    2021 are one quarter (2021Q3), and diversion's six months two quarters, not 3 and 6 quarters."""
    import evaluate as ev

    prepared = ev.prepare_config(ev.demo_config_path())
    q = prepared.panels["quarter"].data
    crack = q[q["crackdown__phase_in"]]
    assert crack["period_label"].tolist() == ["2021Q3"]
    assert prepared.timings["crackdown"]["quarter"].phase_in_periods == 1
    div = q[q["diversion__phase_in"]].groupby("area_code")["period_label"].apply(list)
    assert div.map(len).max() == 2 and div["SIM03"] == ["2018Q2", "2018Q3"]
    month = prepared.main.data
    assert month.loc[month["crackdown__phase_in"], "period_label"].tolist() == ["2021-07", "2021-08", "2021-09"]
