"""Holm and Benjamini-Hochberg adjusted p-values across the outcomes of an analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from evaluate.results import RESULT_COLUMNS, EffectResult, RowAccounting
from evaluate.results.multiple import ADJUSTMENT_NOTE, adjust_p_values, holm
from evaluate.results.table import results_frame, results_json

BEFORE = [
    "analysis", "method", "estimator", "outcome", "outcome_role", "estimand", "estimate", "std_error",
    "ci_lower", "ci_upper", "ci_level", "p_value", "n_obs", "n_areas", "n_periods", "se_type", "intervention",
    "unit", "note",
]


def _result(analysis: str, outcome: str, p: dict[str, float], unit: str = "") -> EffectResult:
    est = pd.DataFrame([
        {"estimand": e, "estimate": 1.0, "std_error": 0.5, "ci_lower": 0.0, "ci_upper": 2.0, "p_value": v,
         "n_obs": 10, "n_areas": 1, "n_periods": 10, "note": ""}
        for e, v in p.items()
    ])
    return EffectResult(analysis=analysis, method="its", estimator="ols", outcome=outcome, outcome_role="harm",
                        outcome_label=outcome, intervention="x", estimates=est, ci_level=0.95, se_type="HAC",
                        rows=RowAccounting(10, 10, {}), unit=unit)


def test_columns_keep_the_old_order_and_add_the_adjusted_ones_after_p_value() -> None:
    assert [c for c in RESULT_COLUMNS if c not in ("p_value_holm", "p_value_bh")] == BEFORE
    i = RESULT_COLUMNS.index("p_value")
    assert RESULT_COLUMNS[i + 1 : i + 3] == ("p_value_holm", "p_value_bh")
    frame = results_frame([_result("a", "y", {"level_change": 0.01})])
    assert list(frame.columns) == list(RESULT_COLUMNS)


@pytest.mark.parametrize("n", [2, 3, 7, 25])
def test_holm_and_bh_equal_statsmodels(n: int, rng: np.random.Generator) -> None:
    p = rng.uniform(size=n) ** 3
    p[0] = p[1]  # ties
    assert np.allclose(holm(p), multipletests(p, method="holm")[1])
    table = pd.DataFrame({"analysis": "a", "estimand": "e", "p_value": p})
    out = adjust_p_values(table)
    assert np.allclose(out["p_value_holm"], multipletests(p, method="holm")[1])
    assert np.allclose(out["p_value_bh"], multipletests(p, method="fdr_bh")[1])


def test_families_are_analysis_and_estimand_across_outcomes_and_units() -> None:
    results = [
        _result("its_a", "deaths", {"level_change": 0.01, "relative_change": 0.04}),
        _result("its_a", "overdoses", {"level_change": 0.02, "relative_change": 0.03}, unit="A1"),
        _result("its_a", "overdoses", {"level_change": 0.04, "relative_change": np.nan}, unit="A2"),
        _result("its_b", "deaths", {"level_change": 0.01}),
    ]
    t = results_frame(results).set_index(["analysis", "outcome", "unit", "estimand"])
    level = [0.01, 0.02, 0.04]
    expected = multipletests(level, method="holm")[1]
    got = [t.loc[("its_a", "deaths", "", "level_change"), "p_value_holm"],
           t.loc[("its_a", "overdoses", "A1", "level_change"), "p_value_holm"],
           t.loc[("its_a", "overdoses", "A2", "level_change"), "p_value_holm"]]
    assert np.allclose(got, expected)
    # relative_change: a family of two (the missing p-value is not a member and stays missing)
    rel = multipletests([0.04, 0.03], method="fdr_bh")[1]
    assert np.isclose(t.loc[("its_a", "deaths", "", "relative_change"), "p_value_bh"], rel[0])
    assert np.isnan(t.loc[("its_a", "overdoses", "A2", "relative_change"), "p_value_bh"])
    # another analysis is another family: alone, its p-value is unchanged
    assert t.loc[("its_b", "deaths", "", "level_change"), "p_value_holm"] == pytest.approx(0.01)


def test_adjusted_p_values_are_never_smaller_than_raw_and_keep_row_order(rng: np.random.Generator) -> None:
    table = pd.DataFrame({
        "analysis": rng.choice(["a", "b"], 40),
        "estimand": rng.choice(["x", "y", "z"], 40),
        "p_value": rng.uniform(size=40),
    })
    shuffled = table.sample(frac=1.0, random_state=3)
    out = adjust_p_values(shuffled)
    assert list(out.index) == list(shuffled.index)
    assert (out["p_value_holm"] >= out["p_value"] - 1e-12).all()
    assert (out["p_value_bh"] >= out["p_value"] - 1e-12).all()
    assert (out["p_value_holm"] >= out["p_value_bh"] - 1e-12).all()
    # the answer does not depend on row order
    again = adjust_p_values(table).loc[out.index]
    assert np.allclose(again["p_value_holm"], out["p_value_holm"])


def test_missing_columns_are_named() -> None:
    with pytest.raises(KeyError, match=r"adjust_p_values: the table lacks columns \['estimand'\]"):
        adjust_p_values(pd.DataFrame({"analysis": ["a"], "p_value": [0.1]}))


def test_json_carries_the_adjusted_p_values_and_names_the_adjustment() -> None:
    content = results_json([_result("a", "y", {"e": 0.01}), _result("a", "z", {"e": 0.03})], evaluation="e", title="t")
    assert content["p_value_adjustment"] == ADJUSTMENT_NOTE
    assert "Holm" in ADJUSTMENT_NOTE and "Benjamini-Hochberg" in ADJUSTMENT_NOTE
    holm_values = [r["estimates"][0]["p_value_holm"] for r in content["results"]]
    assert holm_values == pytest.approx(list(multipletests([0.01, 0.03], method="holm")[1]))
