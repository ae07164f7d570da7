"""Property tests for :mod:`evaluate.data.join`: sources joined into area x period panels.

Sources are built directly as :class:`~evaluate.data.validate.ParsedSource` objects (the shape
validation hands to :func:`build_panels`), with entities and variables from the packaged data
dictionary and an explicit area lookup, so that each property controls exactly which rows fall
outside the window or have unknown areas. One end-to-end test goes through
:func:`evaluate.pipeline.prepare.prepare` to check that the hand-built shape matches the real one.

Expectations are computed independently: which harmonised rows are matched, outside the window or
of unknown areas is decided here from the area lookup and the window, and totals are followed
from the source files to the panel cell by cell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluate.data.dictionary import load_dictionary
from evaluate.data.harmonise import apportion, to_frequency
from evaluate.data.join import MAX_LISTED, JoinReport, Panel, build_panels
from evaluate.data.periods import PANDAS_FREQ, period_label, week_freq
from evaluate.data.validate import ParsedSource
from evaluate.errors import DataError, JoinError

DICTIONARY = load_dictionary()
# (source name, entity, variable): flows without suppression rules, one variable each
FLOWS = [
    ("policing", "policing_activity", "drug_stop_search"),
    ("harm", "harm_outcomes", "drug_related_violence"),
    ("benefit", "benefit_outcomes", "diversions_completed"),
]
STRAYS = ["X01", "X02", "Z99"]  # area codes not in the lookup


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- building sources -----------------------------------------------------------------------------


def flow_source(
    name: str, entity: str, variable: str, frame: pd.DataFrame, frequency: str
) -> ParsedSource:
    """A validated flow source as :func:`validate_sources` returns it."""
    return ParsedSource(
        name=name,
        entity=DICTIONARY.entities[entity],
        frequency=frequency,
        freq=pd.PeriodIndex(frame["period"]).freqstr,
        variables=[DICTIONARY.variables[variable]],
        rules={},
        frame=frame,
        rows=len(frame),
        path=f"data/{name}.csv",
        sha256="",
    )


def lookup_source(areas: list[str]) -> ParsedSource:
    """An area lookup defining the panel's areas."""
    frame = pd.DataFrame(
        {
            "area_code": pd.Series(areas, dtype="string"),
            "area_name": pd.Series([f"Area {a}" for a in areas], dtype="string"),
        }
    )
    return ParsedSource(
        name="areas",
        entity=DICTIONARY.entities["area_lookup"],
        frequency=None,
        freq=None,
        variables=[],
        rules={},
        frame=frame,
        rows=len(frame),
        path="data/areas.csv",
        sha256="",
    )


def series_frame(rows: list[tuple[str, int, float]], pfreq: str, variable: str) -> pd.DataFrame:
    """``area_code`` (string), ``period`` and the variable from (area, ordinal, value) rows."""
    return pd.DataFrame(
        {
            "area_code": pd.Series([a for a, _, _ in rows], dtype="string"),
            "period": pd.Series(pd.PeriodIndex.from_ordinals([o for _, o, _ in rows], freq=pfreq)),
            variable: np.asarray([v for _, _, v in rows], dtype=float),
        }
    )


@st.composite
def flow_frames(
    draw: st.DrawFn, variable: str, frequency: str, areas: list[str], around: pd.Period
) -> pd.DataFrame:
    """Rows for 1+ of ``areas``, each with its own run of periods starting within a year either
    side of the month ``around``; whole-number values (counts)."""
    weekday = draw(st.integers(0, 6))
    pfreq = week_freq(weekday) if frequency == "week" else PANDAS_FREQ[frequency]
    chosen = draw(st.lists(st.sampled_from(areas), min_size=1, max_size=len(areas), unique=True))
    rows: list[tuple[str, int, float]] = []
    for a in chosen:
        first = around.start_time.date() + timedelta(days=draw(st.integers(-400, 400)))
        if frequency == "week":
            first += timedelta(days=(weekday - first.weekday()) % 7)
        n = draw(st.integers(1, 30 if frequency == "month" else 120 if frequency == "week" else 10))
        periods = pd.period_range(start=pd.Timestamp(first), periods=n, freq=pfreq)
        values = draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))
        rows += [(a, p.ordinal, float(v)) for p, v in zip(periods, values, strict=True)]
    return series_frame(rows, pfreq, variable)


@st.composite
def join_cases(
    draw: st.DrawFn, *, strays: bool = True, explicit_window: bool | None = True
) -> tuple[dict[str, ParsedSource], list[str], str | None, str | None]:
    """An area lookup, 1-3 monthly or weekly flow sources (some rows for areas not in the lookup
    when ``strays``) and a window (explicit ``data.start``/``data.end`` when ``explicit_window``,
    from the data when False, drawn when None)."""
    universe = [f"E{i:02d}" for i in range(draw(st.integers(1, 5)))]
    pool = universe + (STRAYS if strays else [])
    start = pd.Period(draw(st.dates(date(2016, 1, 1), date(2021, 12, 31))), "M")
    end = start + draw(st.integers(0, 30))
    parsed: dict[str, ParsedSource] = {"areas": lookup_source(universe)}
    for name, entity, variable in draw(
        st.lists(st.sampled_from(FLOWS), min_size=1, max_size=3, unique=True)
    ):
        frequency = draw(st.sampled_from(["month", "week"]))
        frame = draw(flow_frames(variable, frequency, pool, start + 6))
        parsed[name] = flow_source(name, entity, variable, frame, frequency)
    if explicit_window is None:
        explicit_window = draw(st.booleans())
    if not explicit_window:
        return parsed, universe, None, None
    return parsed, universe, period_label(start, "month"), period_label(end, "month")


def harmonised(p: ParsedSource, freq: str = "month") -> pd.DataFrame:
    """The source at ``freq`` as the join sees it (``__complete`` flags incomplete periods)."""
    out, _ = to_frequency(
        p.frame, p.variables, source=p.name, source_frequency=p.frequency or freq, target=freq
    )
    return out


def flows_of(parsed: dict[str, ParsedSource]) -> list[ParsedSource]:
    return [p for p in parsed.values() if p.frequency is not None]


def expected_window(
    parsed: dict[str, ParsedSource], start: str | None, end: str | None, freq: str = "month"
) -> tuple[pd.Period, pd.Period] | str:
    """The ``freq`` panel's window, or the text of the :class:`DataError` expected instead.

    The window is ``data.start``/``data.end`` (read at ``freq``) when given, which must overlap the
    span of the flows' complete periods; otherwise it is that span, and there must be one.
    """
    pfreq = PANDAS_FREQ[freq]
    spans = []
    for p in flows_of(parsed):
        if p.frequency == freq or (p.frequency, freq) in (
            ("week", "month"),
            ("week", "quarter"),
            ("month", "quarter"),
        ):
            h = harmonised(p, freq)
            done = h.loc[h["__complete"], "period"]
            if len(done):
                spans.append((done.min(), done.max()))
    if start and end:
        first, last = pd.Period(start, "M").asfreq(pfreq), pd.Period(end, "M").asfreq(pfreq)
        if spans and (last < min(lo for lo, _ in spans) or first > max(hi for _, hi in spans)):
            return "does not overlap the sources' periods"
        return first, last
    if not spans:
        return f"no source has complete {freq} periods"
    return min(lo for lo, _ in spans), max(hi for _, hi in spans)


# -- 1. row accounting ----------------------------------------------------------------------------


@_settings(40)
@given(case=join_cases())
def test_row_accounting_balances_and_nothing_is_dropped_silently(
    case: tuple[dict[str, ParsedSource], list[str], str | None, str | None],
) -> None:
    """Under policy ``report``, for every source: ``rows_harmonised == rows_matched +
    rows_outside_window + rows_unknown_area`` (so ``balanced``), each term equals the count
    decided independently from the area lookup and the explicit window, and the value total is
    followed from file to panel: source total == panel total + partial periods blanked as
    incomplete + rows outside the window + rows of unknown areas. (A window that misses every
    source's complete periods is refused with a :class:`DataError` instead.)"""
    parsed, universe, start, end = case
    window = expected_window(parsed, start, end)
    if isinstance(window, str):
        with pytest.raises(DataError, match=window):
            build_panels(parsed, frequency="month", start=start, end=end, policy="report")
        return
    panels = build_panels(parsed, frequency="month", start=start, end=end, policy="report")
    assert list(panels) == ["month"]
    panel = panels["month"]
    first, last = window
    report = panel.report
    assert [s.source for s in report.sources] == [p.name for p in flows_of(parsed)]
    for s in report.sources:
        p = parsed[s.source]
        var = p.variables[0].name
        h = harmonised(p)
        known = h["area_code"].isin(universe).to_numpy()
        inside = ((h["period"] >= first) & (h["period"] <= last)).to_numpy()
        assert s.rows_in == len(p.frame)
        assert s.rows_harmonised == len(h)
        assert s.rows_unknown_area == int((~known).sum())
        assert s.rows_outside_window == int((known & ~inside).sum())
        assert s.rows_matched == int((known & inside).sum())
        assert s.rows_harmonised == s.rows_matched + s.rows_outside_window + s.rows_unknown_area
        assert s.balanced
        assert s.incomplete_periods == int((~h["__complete"].to_numpy() & known & inside).sum())

        panel_total = float(panel.data[var].sum())  # NaN (blanked, absent) cells count as 0
        matched_total = float(np.nansum(h.loc[known & inside, var]))
        assert math.isclose(panel_total, matched_total, rel_tol=1e-9, abs_tol=1e-9)

        # follow every unit of the file: apportioned (not blanked) shares of each bucket
        parts = apportion(p.frame, [var], "month")
        k = parts["area_code"].isin(universe).to_numpy()
        i = ((parts["period"] >= first) & (parts["period"] <= last)).to_numpy()
        blanked = (parts["__coverage"] < 1 - 1e-9).to_numpy()
        total = float(p.frame[var].sum())
        accounted = (
            panel_total
            + parts.loc[k & i & blanked, var].sum()
            + parts.loc[k & ~i, var].sum()
            + parts.loc[~k, var].sum()
        )
        assert math.isclose(accounted, total, rel_tol=1e-9, abs_tol=1e-9), (
            s.source,
            accounted,
            total,
        )
    assert report.rows_dropped == sum(
        s.rows_outside_window + s.rows_unknown_area for s in report.sources
    )
    d = report.to_dict()
    assert all(s["balanced"] for s in d["sources"])


# -- 2. strict policy -----------------------------------------------------------------------------


@st.composite
def strict_cases(draw: st.DrawFn) -> tuple[dict[str, ParsedSource], str, list[str]]:
    """An area lookup and one flow source, with rows for 0-3 area codes not in the lookup."""
    universe = [f"E{i:02d}" for i in range(draw(st.integers(1, 4)))]
    bad = draw(st.lists(st.sampled_from(STRAYS), max_size=3, unique=True))
    name, entity, variable = draw(st.sampled_from(FLOWS))
    frequency = draw(st.sampled_from(["month", "week"]))
    around = pd.Period(draw(st.dates(date(2016, 1, 1), date(2021, 12, 31))), "M")
    frame = draw(flow_frames(variable, frequency, universe, around))
    if bad:
        # every stray area gets at least the first period of the source, maybe more
        pfreq = pd.PeriodIndex(frame["period"]).freqstr
        first = int(frame["period"].min().ordinal)
        extra = draw(flow_frames(variable, frequency, bad, around))
        if pd.PeriodIndex(extra["period"]).freqstr != pfreq:  # weeks anchored on another weekday
            extra = extra.iloc[:0]
        frame = pd.concat(
            [frame, extra, series_frame([(a, first, 1.0) for a in bad], pfreq, variable)],
            ignore_index=True,
        ).drop_duplicates(["area_code", "period"], ignore_index=True)
    return (
        {
            "areas": lookup_source(universe),
            name: flow_source(name, entity, variable, frame, frequency),
        },
        name,
        bad,
    )


@_settings(30)
@given(case=strict_cases(), window=st.booleans())
def test_strict_policy_raises_on_unknown_areas_only(
    case: tuple[dict[str, ParsedSource], str, list[str]], window: bool
) -> None:
    """Under policy ``strict`` a source with rows for areas not in the lookup raises
    :class:`JoinError` whose message names the source and every unknown area and suggests
    ``data.join.policy: report`` (whether or not those rows fall in the window); a source whose
    areas are all known builds its panel."""
    parsed, name, bad = case
    h = harmonised(parsed[name])
    start = end = None
    if window:  # three months from the first complete one: usually only part of the data
        done = h.loc[h["__complete"], "period"]
        first = done.min() if len(done) else h["period"].min()
        start, end = period_label(first, "month"), period_label(first + 2, "month")
    elif not h["__complete"].any():  # no complete month to take a window from: another error
        with pytest.raises(DataError, match="no source has complete month periods") as info:
            build_panels(parsed, frequency="month", policy="strict")
        assert not isinstance(info.value, JoinError)
        return
    if not bad:
        panels = build_panels(parsed, frequency="month", start=start, end=end, policy="strict")
        assert panels["month"].report.sources[0].rows_unknown_area == 0
        return
    with pytest.raises(JoinError) as info:
        build_panels(parsed, frequency="month", start=start, end=end, policy="strict")
    message = str(info.value)
    assert f"'{name}'" in message
    for area in bad:
        assert area in message, (area, message)
    assert "data.join.policy: report" in message
    assert isinstance(info.value.report, JoinReport)


def test_strict_policy_names_every_source_with_unknown_areas() -> None:
    """With two sources that both have unknown areas, the strict-policy error names both sources
    and both unknown areas (so the user can fix everything in one pass)."""
    months = pd.period_range("2020-01", "2020-06", freq="M")
    rows_a = [("E01", m.ordinal, 1.0) for m in months] + [("X01", months[0].ordinal, 1.0)]
    rows_b = [("E01", m.ordinal, 1.0) for m in months] + [("Z99", months[0].ordinal, 1.0)]
    parsed = {
        "areas": lookup_source(["E01"]),
        "policing": flow_source(
            "policing",
            "policing_activity",
            "drug_stop_search",
            series_frame(rows_a, "M", "drug_stop_search"),
            "month",
        ),
        "harm": flow_source(
            "harm",
            "harm_outcomes",
            "drug_related_violence",
            series_frame(rows_b, "M", "drug_related_violence"),
            "month",
        ),
    }
    with pytest.raises(JoinError) as info:
        build_panels(parsed, frequency="month", policy="strict")
    message = str(info.value)
    assert "'policing'" in message and "X01" in message
    assert "'harm'" in message and "Z99" in message


def test_strict_policy_raises_on_unknown_areas_in_a_stock_source() -> None:
    """The documented contract of :func:`build_panels`: under ``strict``, *any* row with an unknown
    area raises, including a population row."""
    months = pd.period_range("2020-01", "2020-06", freq="M")
    flows = series_frame([("E01", m.ordinal, 1.0) for m in months], "M", "drug_stop_search")
    y2020 = pd.Period("2020", "Y-DEC").ordinal
    pop = series_frame([("E01", y2020, 1000.0), ("X01", y2020, 500.0)], "Y-DEC", "population")
    parsed = {
        "areas": lookup_source(["E01"]),
        "policing": flow_source(
            "policing", "policing_activity", "drug_stop_search", flows, "month"
        ),
        "population": flow_source("population", "population", "population", pop, "year"),
    }
    with pytest.raises(JoinError, match="population"):
        build_panels(parsed, frequency="month", policy="strict")


# -- 3. the panel grid ----------------------------------------------------------------------------


@_settings(35)
@given(case=join_cases(explicit_window=None))
def test_panel_is_the_full_area_period_grid(
    case: tuple[dict[str, ParsedSource], list[str], str | None, str | None],
) -> None:
    """The main panel has one row per lookup area and window period (explicit, or else the span
    of the flows' complete periods), sorted by area then period, ``t`` counting periods from 0;
    each cell holds the harmonised value of the matched row (NaN where none, or blanked); per
    source, ``areas_missing`` lists the areas and ``periods_missing`` the window periods with no
    matched row (at most :data:`MAX_LISTED` each)."""
    parsed, universe, start, end = case
    window = expected_window(parsed, start, end)
    if isinstance(window, str):
        with pytest.raises(DataError, match=window):
            build_panels(parsed, frequency="month", start=start, end=end, policy="report")
        return
    panel = build_panels(parsed, frequency="month", start=start, end=end, policy="report")["month"]
    first, last = window
    periods = pd.period_range(first, last, freq="M")
    data = panel.data
    assert len(data) == len(universe) * len(periods) == panel.report.rows
    assert data["area_code"].tolist() == [a for a in sorted(universe) for _ in periods]
    assert data["period"].tolist() == list(periods) * len(universe)
    assert data["t"].tolist() == list(range(len(periods))) * len(universe)
    assert data["period_label"].tolist() == [period_label(p, "month") for p in periods] * len(
        universe
    )
    assert data["area_name"].tolist() == [f"Area {a}" for a in sorted(universe) for _ in periods]
    assert (panel.report.areas, panel.report.periods) == (len(universe), len(periods))
    assert (panel.report.first_period, panel.report.last_period) == (
        period_label(first, "month"),
        period_label(last, "month"),
    )
    assert panel.areas == sorted(universe) and list(panel.periods) == list(periods)
    cells = data.set_index(["area_code", "period"])
    for s in panel.report.sources:
        p = parsed[s.source]
        var = p.variables[0].name
        h = harmonised(p)
        matched = h[h["area_code"].isin(universe) & (h["period"] >= first) & (h["period"] <= last)]
        want = pd.Series(np.nan, index=cells.index)
        want.loc[list(zip(matched["area_code"], matched["period"], strict=True))] = matched[
            var
        ].to_numpy()
        np.testing.assert_array_equal(cells[var].to_numpy(), want.to_numpy())
        have_areas = set(matched["area_code"])
        have_periods = set(matched["period"])
        assert s.areas_missing == [a for a in sorted(universe) if a not in have_areas][:MAX_LISTED]
        assert (
            s.periods_missing
            == [period_label(q, "month") for q in periods if q not in have_periods][:MAX_LISTED]
        )


# -- 4. coarser sources ---------------------------------------------------------------------------


@st.composite
def coarse_cases(draw: st.DrawFn) -> tuple[dict[str, ParsedSource], list[str], str, str]:
    """A monthly source and a quarterly one (both for lookup areas), and an explicit window."""
    universe = [f"E{i:02d}" for i in range(draw(st.integers(1, 4)))]
    start = pd.Period(draw(st.dates(date(2016, 1, 1), date(2021, 12, 31))), "M")
    end = start + draw(st.integers(2, 24))
    monthly = draw(flow_frames("drug_stop_search", "month", universe, start + 6))
    quarterly = draw(flow_frames("drug_related_violence", "quarter", universe, start + 6))
    parsed = {
        "areas": lookup_source(universe),
        "policing": flow_source(
            "policing", "policing_activity", "drug_stop_search", monthly, "month"
        ),
        "admissions": flow_source(
            "admissions", "harm_outcomes", "drug_related_violence", quarterly, "quarter"
        ),
    }
    return parsed, universe, period_label(start, "month"), period_label(end, "month")


@_settings(30)
@given(case=coarse_cases())
def test_coarser_source_gets_its_own_panel_and_is_never_split(
    case: tuple[dict[str, ParsedSource], list[str], str, str],
) -> None:
    """A quarterly source in a monthly evaluation creates a second, quarterly panel holding its
    values unchanged (plus the monthly sources summed into whole quarters, partial quarters left
    missing); the monthly panel has no column for it at all and does not list it (no monthly
    values are invented)."""
    parsed, universe, start, end = case
    windows = {f: expected_window(parsed, start, end, f) for f in ("month", "quarter")}
    problem = next((w for w in windows.values() if isinstance(w, str)), None)
    if problem is not None:
        with pytest.raises(DataError, match=problem):
            build_panels(parsed, frequency="month", start=start, end=end, policy="report")
        return
    panels = build_panels(parsed, frequency="month", start=start, end=end, policy="report")
    assert list(panels) == ["month", "quarter"]
    month, quarter = panels["month"], panels["quarter"]
    assert isinstance(month, Panel) and isinstance(quarter, Panel)
    assert not any(c.startswith("drug_related_violence") for c in month.data.columns)
    assert (
        "drug_related_violence" not in month.variables
        and "drug_related_violence" not in month.origin
    )
    assert [s.source for s in month.report.sources] == ["policing"]
    assert len(month.data) == len(universe) * len(pd.period_range(*windows["month"], freq="M"))

    q_periods = pd.period_range(*windows["quarter"], freq="Q-DEC")
    assert quarter.frequency == "quarter" and quarter.report.frequency == "quarter"
    assert len(quarter.data) == len(universe) * len(q_periods)
    assert list(quarter.periods) == list(q_periods)
    assert quarter.origin == {"drug_stop_search": "policing", "drug_related_violence": "admissions"}
    assert quarter.report.notes, "the quarterly panel must say why it exists"
    cells = quarter.data.set_index(["area_code", "period"])
    # quarterly values are placed unchanged
    src = parsed["admissions"].frame
    want = pd.Series(np.nan, index=cells.index)
    inside = src[src["period"].isin(q_periods)]
    want.loc[list(zip(inside["area_code"], inside["period"], strict=True))] = inside[
        "drug_related_violence"
    ].to_numpy()
    np.testing.assert_array_equal(cells["drug_related_violence"].to_numpy(), want.to_numpy())
    # monthly values summed into whole quarters only
    m = parsed["policing"].frame
    months = {
        (a, p): v
        for a, p, v in zip(m["area_code"], m["period"], m["drug_stop_search"], strict=True)
    }
    for (a, q), got in cells["drug_stop_search"].items():
        parts = [
            months.get((a, mm))
            for mm in pd.period_range(q.asfreq("M", "start"), q.asfreq("M", "end"), freq="M")
        ]
        if all(v is not None for v in parts):
            assert got == sum(v for v in parts if v is not None), (a, q)
        else:
            assert np.isnan(got), (a, q, parts)


# -- 5. one variable, one source ------------------------------------------------------------------


@_settings(20)
@given(
    names=st.lists(
        st.sampled_from(["police", "force_data", "policing_2", "arrests"]),
        min_size=2,
        max_size=2,
        unique=True,
    ),
    policy=st.sampled_from(["strict", "report"]),
    frequencies=st.tuples(
        st.sampled_from(["month", "week"]), st.sampled_from(["month", "week", "quarter"])
    ),
)
def test_two_sources_with_the_same_variable_are_refused(
    names: list[str], policy: str, frequencies: tuple[str, str]
) -> None:
    """Two sources providing the same variable raise :class:`DataError` naming the variable and
    both sources, whatever their frequencies and the join policy."""
    parsed: dict[str, ParsedSource] = {"areas": lookup_source(["E01"])}
    for name, frequency in zip(names, frequencies, strict=True):
        pfreq = week_freq(0) if frequency == "week" else PANDAS_FREQ[frequency]
        first = pd.Period("2020-01-06", pfreq)
        frame = series_frame(
            [("E01", first.ordinal + k, 1.0) for k in range(12)], pfreq, "possession_arrests"
        )
        parsed[name] = flow_source(
            name, "policing_activity", "possession_arrests", frame, frequency
        )
    with pytest.raises(DataError) as info:
        build_panels(parsed, frequency="month", policy=policy)
    message = str(info.value)
    assert not isinstance(info.value, JoinError)
    assert "'possession_arrests'" in message
    assert f"'{names[0]}'" in message and f"'{names[1]}'" in message


# -- end to end -----------------------------------------------------------------------------------


def test_prepare_report_policy_accounts_for_every_row(make_project: Callable[..., Path]) -> None:
    """Through the real pipeline (CSV -> validation -> join), policy ``report``: a policing file
    with rows for an unknown area and months outside ``data.start``/``data.end`` balances, and the
    panel total equals the file's total for known areas inside the window."""
    from evaluate.config.loader import load_config
    from evaluate.pipeline.prepare import prepare

    rows = ["area_code,period,drug_stop_search,possession_arrests"]
    total_inside = 0
    for a in ["A1", "A2", "A3", "A4", "ZZ9"]:
        for k, m in enumerate(pd.period_range("2019-01", "2020-12", freq="M")):
            v = 10 + k + len(a)
            rows.append(f"{a},{m},{v},1")
            if a != "ZZ9" and pd.Period("2019-04", "M") <= m <= pd.Period("2020-09", "M"):
                total_inside += v
    cfg = make_project(
        config={"data": {"join": {"policy": "report"}, "start": "2019-04", "end": "2020-09"}},
        files={"data/policing.csv": "\n".join(rows) + "\n"},
    )
    prepared = prepare(load_config(cfg))
    panel = prepared.main
    s = next(s for s in panel.report.sources if s.source == "policing")
    assert s.balanced
    assert (s.rows_harmonised, s.rows_unknown_area, s.rows_outside_window) == (5 * 24, 24, 4 * 6)
    assert s.rows_matched == 4 * 18
    assert any(k.startswith("ZZ9") for k in s.unmatched_keys)
    assert panel.data["drug_stop_search"].sum() == total_inside
    assert re.search(r"24 unknown area", panel.report.to_text())
