"""Periods: every accepted form, mixed forms detected, labels stable, financial years right."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluate.data.periods import parse_period, parse_periods, period_label
from evaluate.errors import ConfigError


@pytest.mark.parametrize(
    ("frequency", "text", "label"),
    [
        ("month", "2016-01", "2016-01"),
        ("month", "2016-1", "2016-01"),
        ("month", "2016-01-01", "2016-01"),
        ("month", "2016-01-15", "2016-01"),
        ("month", "Jan 2016", "2016-01"),
        ("month", "January 2016", "2016-01"),
        ("month", "Sept-2016", "2016-09"),
        ("month", "2016M03", "2016-03"),
        ("month", "201603", "2016-03"),
        ("month", " 2016-03 ", "2016-03"),
        ("quarter", "2016Q1", "2016Q1"),
        ("quarter", "2016 Q2", "2016Q2"),
        ("quarter", "2016-Q3", "2016Q3"),
        ("quarter", "Q4 2016", "2016Q4"),
        ("quarter", "2016-05-01", "2016Q2"),
        ("year", "2016", "2016"),
        ("financial_year", "2016/17", "2016/17"),
        ("financial_year", "2016-17", "2016/17"),
        ("financial_year", "2016/2017", "2016/17"),
        ("financial_year", "FY2016/17", "2016/17"),
        ("financial_year", "1999/00", "1999/00"),
        ("week", "2016-01-04", "2016-01-04"),
        ("week", "2016-W01", "2016-01-04"),
    ],
)
def test_accepted_forms(frequency: str, text: str, label: str) -> None:
    parsed = parse_periods(pd.Series([text]), frequency)
    assert not parsed.bad.iloc[0]
    assert period_label(parsed.periods.iloc[0], frequency) == label


@pytest.mark.parametrize(
    ("frequency", "text"),
    [
        ("month", "2016-13"),
        ("month", "2016-02-30"),
        ("month", "13/2016"),
        ("month", "01/02/2016"),
        ("quarter", "2016Q5"),
        ("year", "16"),
        ("financial_year", "2016/18"),
        ("financial_year", "2016"),
        ("week", "2016-W54"),
        ("month", "junk"),
    ],
)
def test_rejected_forms(frequency: str, text: str) -> None:
    parsed = parse_periods(pd.Series([text]), frequency)
    assert parsed.bad.iloc[0]


def test_empty_cells_are_reported_as_empty_not_bad() -> None:
    parsed = parse_periods(pd.Series(["2016-01", "", None, "  "]), "month")
    assert parsed.empty.tolist() == [False, True, True, True]
    assert not parsed.bad.any()


def test_mixed_forms_are_detected() -> None:
    parsed = parse_periods(pd.Series(["2016-01", "Feb 2016", "2016-03"]), "month")
    assert parsed.forms == ("Mon YYYY", "YYYY-MM")


def test_period_format_overrides() -> None:
    parsed = parse_periods(pd.Series(["01/02/2016", "31/03/2016", ""]), "month", fmt="%d/%m/%Y")
    assert [period_label(p, "month") for p in parsed.periods[:2]] == ["2016-02", "2016-03"]
    assert parsed.empty.tolist() == [False, False, True]


def test_financial_year_runs_april_to_march() -> None:
    p = parse_periods(pd.Series(["2016/17"]), "financial_year").periods.iloc[0]
    assert p.start_time == pd.Timestamp("2016-04-01")
    assert p.end_time.normalize() == pd.Timestamp("2017-03-31")


def test_weeks_keep_their_weekday() -> None:
    parsed = parse_periods(pd.Series(["2016-01-02", "2016-01-09"]), "week")  # Saturdays
    p = parsed.periods.iloc[0]
    assert p.start_time == pd.Timestamp("2016-01-02")
    assert p.end_time.normalize() == pd.Timestamp("2016-01-08")


def test_datetime_columns_parse() -> None:
    parsed = parse_periods(pd.Series(pd.to_datetime(["2015-12-28", "2016-01-04"])), "week")
    assert [period_label(p, "week") for p in parsed.periods] == ["2015-12-28", "2016-01-04"]


def test_integer_years_parse() -> None:
    parsed = parse_periods(pd.Series([2016, 2017]), "year")
    assert [period_label(p, "year") for p in parsed.periods] == ["2016", "2017"]


def test_parse_period_error_gives_an_example() -> None:
    with pytest.raises(ConfigError, match=r"x\.start: '2021-13' is not a month period; write it like '2021-07'"):
        parse_period("2021-13", "month", context="x.start")


def test_parse_period_places_a_month_in_a_coarser_panel() -> None:
    assert period_label(parse_period("2021-07", "quarter", context="c"), "quarter") == "2021Q3"
    assert period_label(parse_period("2021-03", "financial_year", context="c"), "financial_year") == "2020/21"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["month", "quarter", "year", "financial_year"]),
    st.integers(min_value=1990, max_value=2090),
    st.integers(min_value=1, max_value=12),
)
def test_labels_parse_back_to_the_same_period(frequency: str, year: int, month: int) -> None:
    """label(parse(label(p))) == label(p) for every frequency."""
    p = pd.Period(f"{year}-{month:02d}", freq="M").asfreq(
        {"month": "M", "quarter": "Q-DEC", "year": "Y-DEC", "financial_year": "Y-MAR"}[frequency]
    )
    label = period_label(p, frequency)
    back = parse_periods(pd.Series([label]), frequency).periods.iloc[0]
    assert back == p
