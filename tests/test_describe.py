"""The describe method: numbers checked by hand and against statsmodels; rows accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluate.estimators.describe import describe


def _frame() -> pd.DataFrame:
    # 3 treated and 3 comparison areas, 2 pre and 2 post periods each
    rows = []
    changes = {"T1": 1.0, "T2": 2.0, "T3": 4.0, "C1": 0.0, "C2": 1.0, "C3": -1.0}
    for area, change in changes.items():
        base = {"T1": 10, "T2": 12, "T3": 8, "C1": 9, "C2": 11, "C3": 10}[area]
        for t in range(4):
            post = t >= 2
            rows.append({"area_code": area, "period": t, "treated": area.startswith("T"), "post": post,
                         "y": base + (change if post else 0.0) + (0.5 if t % 2 else -0.5)})
    return pd.DataFrame(rows)


def test_means_changes_and_difference() -> None:
    r = describe(_frame(), outcome="y", treated="treated", post="post")
    assert list(r.estimates["estimand"]) == [
        "mean_pre_treated", "mean_post_treated", "change_treated",
        "mean_pre_control", "mean_post_control", "change_control", "difference_in_changes",
    ]
    assert r.estimate("mean_pre_treated") == pytest.approx(10.0)
    assert r.estimate("change_treated") == pytest.approx(7 / 3)
    assert r.estimate("change_control") == pytest.approx(0.0)
    assert r.estimate("difference_in_changes") == pytest.approx(7 / 3)


def test_difference_uses_welch_over_areas() -> None:
    """SE, interval and p-value equal Welch's t-test on the area-level changes."""
    r = describe(_frame(), outcome="y", treated="treated", post="post", ci_level=0.9)
    t, c = np.array([1.0, 2.0, 4.0]), np.array([0.0, 1.0, -1.0])
    welch = stats.ttest_ind(t, c, equal_var=False)
    se = np.sqrt(t.var(ddof=1) / 3 + c.var(ddof=1) / 3)
    row = r.estimates.set_index("estimand").loc["difference_in_changes"]
    assert row["std_error"] == pytest.approx(se)
    assert row["p_value"] == pytest.approx(welch.pvalue)
    df = se**4 / ((t.var(ddof=1) / 3) ** 2 / 2 + (c.var(ddof=1) / 3) ** 2 / 2)
    half = stats.t.ppf(0.95, df) * se
    assert row["ci_lower"] == pytest.approx(7 / 3 - half)
    assert row["ci_upper"] == pytest.approx(7 / 3 + half)


def test_change_interval_is_a_t_interval_over_areas() -> None:
    r = describe(_frame(), outcome="y", treated="treated", post="post")
    row = r.estimates.set_index("estimand").loc["change_treated"]
    d = np.array([1.0, 2.0, 4.0])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["n_areas"] == 3 and row["n_obs"] == 12


def test_missing_and_suppressed_rows_are_counted() -> None:
    f = _frame()
    f.loc[0, "y"] = np.nan
    f.loc[1, "y"] = np.nan
    f["y__suppressed"] = False
    f.loc[1, "y__suppressed"] = True
    r = describe(f, outcome="y", treated="treated", post="post")
    assert r.rows.n_input == 24 and r.rows.n_used == 22
    assert r.rows.dropped == {"outcome suppressed": 1, "outcome missing": 1}


def test_no_comparison_areas_warns() -> None:
    f = _frame()
    r = describe(f[f["treated"]], outcome="y", treated="treated", post="post")
    assert "difference_in_changes" not in set(r.estimates["estimand"])
    assert any("no comparison areas" in w for w in r.warnings)


def test_single_area_group_has_no_standard_error() -> None:
    f = _frame()
    f = f[f["area_code"].isin(["T1", "C1", "C2"])]
    r = describe(f, outcome="y", treated="treated", post="post")
    assert np.isnan(r.estimates.set_index("estimand").loc["change_treated", "std_error"])
    assert any("only 1 treated area" in w for w in r.warnings)


def test_row_order_does_not_change_the_result() -> None:
    f = _frame()
    a = describe(f, outcome="y", treated="treated", post="post").estimates
    b = describe(f.sample(frac=1, random_state=3), outcome="y", treated="treated", post="post").estimates
    pd.testing.assert_frame_equal(a, b)


def test_missing_column_is_named() -> None:
    with pytest.raises(KeyError, match="describe: column 'nope' not in the data"):
        describe(_frame(), outcome="nope", treated="treated", post="post")
