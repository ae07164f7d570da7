"""Suppressed cells become missing with a flag and a known range: never zero, never dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluate.data.suppression import SuppressionRule, looks_like_marker, parse_values

RULE = SuppressionRule(markers=("[c]", "*"), lower=1, upper=4)


def test_markers_become_missing_with_a_flag() -> None:
    p = parse_values(pd.Series(["5", "[c]", "*", "0", ""]), rule=RULE)
    assert p.values.tolist()[:1] == [5.0]
    assert np.isnan(p.values.iloc[1]) and np.isnan(p.values.iloc[2])
    assert p.values.iloc[3] == 0.0  # a published zero stays zero
    assert p.suppressed.tolist() == [False, True, True, False, False]
    assert p.missing.tolist() == [False, False, False, False, True]
    assert not p.undeclared.any() and not p.unreadable.any()


def test_undeclared_markers_are_told_apart_from_text() -> None:
    p = parse_values(pd.Series(["[x]", "..", "seven", "<5", "nan", "inf"]), rule=RULE)
    assert p.undeclared.tolist() == [True, True, False, True, False, False]
    assert p.unreadable.tolist() == [False, False, True, False, True, True]


def test_no_rule_means_markers_are_undeclared() -> None:
    p = parse_values(pd.Series(["3", "[c]"]), rule=None)
    assert p.undeclared.tolist() == [False, True]
    assert not p.suppressed.any()


def test_numeric_columns_fast_path() -> None:
    p = parse_values(pd.Series([1, 2, 3]), rule=RULE)
    assert p.values.tolist() == [1.0, 2.0, 3.0]
    assert not (p.missing.any() or p.suppressed.any())


def test_numeric_column_with_nan_and_inf() -> None:
    p = parse_values(pd.Series([1.0, np.nan, np.inf]), rule=None)
    assert p.missing.tolist() == [False, True, False]
    assert p.unreadable.tolist() == [False, False, True]


def test_thousands_separator() -> None:
    p = parse_values(pd.Series(["1,234", "56"]), rule=None, thousands=",")
    assert p.values.tolist() == [1234.0, 56.0]


def test_custom_missing_markers() -> None:
    p = parse_values(pd.Series(["z", "3"]), rule=None, missing_markers=("z",))
    assert p.missing.tolist() == [True, False]


def test_marker_heuristic() -> None:
    assert all(looks_like_marker(m) for m in ["*", "[c]", "[x]", "..", "suppressed", "<5", "[low]"])
    assert not any(looks_like_marker(m) for m in ["seven", "12a", "abc"])
