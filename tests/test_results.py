"""The result type and the results table contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evaluate.results import RESULT_COLUMNS, EffectResult, RowAccounting
from evaluate.results.table import results_frame, results_json

CONTRACT = ["analysis", "method", "outcome", "estimand", "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "n_obs"]


def _result(**kw: object) -> EffectResult:
    est = pd.DataFrame([{"estimand": "level_change", "estimate": 1.5, "std_error": 0.5, "ci_lower": 0.5, "ci_upper": 2.5,
                         "p_value": np.nan, "n_obs": 10, "n_areas": 2, "n_periods": 5, "note": ""}])
    base = dict(analysis="a", method="its", estimator="ols", outcome="y", outcome_role="harm", outcome_label="Y",
                intervention="x", estimates=est, ci_level=0.95, se_type="HAC", rows=RowAccounting(12, 10, {"missing": 2}))
    base.update(kw)
    return EffectResult(**base)  # type: ignore[arg-type]


def test_tidy_has_the_design_contract_columns_first() -> None:
    tidy = _result().tidy()
    assert list(tidy.columns) == list(RESULT_COLUMNS)
    assert [c for c in tidy.columns if c in CONTRACT] == CONTRACT


def test_row_accounting_must_balance() -> None:
    with pytest.raises(ValueError, match="row accounting does not balance"):
        RowAccounting(n_input=10, n_used=8, dropped={"missing": 1})


def test_estimates_need_the_estimand_columns() -> None:
    with pytest.raises(ValueError, match="estimates lack columns"):
        _result(estimates=pd.DataFrame({"estimand": ["x"]}))


def test_summary_labels_activity_as_police_activity() -> None:
    assert "police activity (not a harm outcome)" in _result(outcome_role="activity").summary()
    assert "harm outcome" in _result().summary()
    assert "2 dropped (missing)" in _result().summary()


def test_results_json_has_no_nan() -> None:
    content = results_json([_result()], evaluation="e", title="t")
    text = json.dumps(content, allow_nan=False)
    assert '"p_value": null' in text


def test_empty_results_frame_has_the_columns() -> None:
    assert list(results_frame([]).columns) == list(RESULT_COLUMNS)
