"""Joining validated sources into area x period panels, accounting for every row.

The main panel is at ``data.frequency``. A source that is coarser than that (quarterly hospital
admissions in a monthly evaluation) is never split into invented monthly values: it gets a panel
at its own frequency, into which every finer source is aggregated too, and analyses of it set
``frequency: quarter``. Each panel has a :class:`JoinReport` with, per source, the rows in, the
rows placed in the panel, the rows outside the panel's window, the rows with unknown areas (an
error under the ``strict`` policy, left out and listed under ``report``), the periods blanked as
incomplete, and the areas and periods the source does not cover. The accounting always balances::

    rows_harmonised == rows_matched + rows_outside_window + rows_unknown_area
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluate.data.dictionary import OUTCOME_ROLES, Variable
from evaluate.data.harmonise import HarmoniseNote, can_aggregate, interpolate_stock, to_frequency
from evaluate.data.periods import PANDAS_FREQ, parse_period, period_label, period_labels
from evaluate.data.suppression import SuppressionRule
from evaluate.data.validate import ParsedSource
from evaluate.errors import DataError, JoinError

__all__ = ["MAX_LISTED", "JoinReport", "Panel", "SourceJoin", "build_panels"]

MAX_LISTED = 20


@dataclass
class SourceJoin:
    """Row accounting for one source in one panel."""

    source: str
    from_frequency: str
    method: str
    rows_in: int
    rows_harmonised: int
    rows_matched: int
    rows_outside_window: int
    rows_unknown_area: int
    incomplete_periods: int
    unmatched_keys: list[str] = field(default_factory=list)
    areas_missing: list[str] = field(default_factory=list)
    periods_missing: list[str] = field(default_factory=list)
    extrapolated_cells: int = 0

    @property
    def balanced(self) -> bool:
        """True when every harmonised row is accounted for."""
        return self.rows_harmonised == (
            self.rows_matched + self.rows_outside_window + self.rows_unknown_area
        )


@dataclass
class JoinReport:
    """How one panel was assembled."""

    frequency: str
    policy: str
    areas: int
    periods: int
    first_period: str
    last_period: str
    rows: int
    area_source: str
    window_source: str
    sources: list[SourceJoin] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_dropped(self) -> int:
        """Rows left out of the panel (outside the window or unknown areas), over all sources."""
        return sum(s.rows_outside_window + s.rows_unknown_area for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        for s, src in zip(d["sources"], self.sources, strict=True):
            s["balanced"] = src.balanced
        d["rows_dropped"] = self.rows_dropped
        return d

    def to_text(self) -> str:
        """Terminal form."""
        lines = [
            (f"Join ({self.frequency} panel, policy {self.policy}): {self.areas} areas x "
            f"{self.periods} periods ({self.first_period} to {self.last_period}) = {self.rows:,} rows; "
            f"areas from {self.area_source}; window from {self.window_source}")
        ]
        for s in self.sources:
            conv = f", {s.method}" if s.from_frequency != self.frequency else ""
            lines.append(
                f"  {s.source}: {s.rows_in:,} rows in ({s.from_frequency}{conv}) -> "
                f"{s.rows_harmonised:,} at {self.frequency}: {s.rows_matched:,} matched, "
                f"{s.rows_outside_window:,} outside the window, {s.rows_unknown_area:,} unknown area"
            )
            if s.incomplete_periods:
                lines.append(
                    f"    {s.incomplete_periods:,} area-periods only partly covered: left missing"
                )
            if s.unmatched_keys:
                lines.append(f"    unmatched: {', '.join(s.unmatched_keys[:8])}")
            if s.areas_missing:
                lines.append(
                    f"    no rows for {len(s.areas_missing)} area(s): {', '.join(s.areas_missing[:8])}"
                )
            if s.periods_missing:
                lines.append(
                    f"    no rows for {len(s.periods_missing)} period(s): "
                    f"{', '.join(s.periods_missing[:8])}"
                )
            if s.extrapolated_cells:
                lines.append(
                    f"    {s.extrapolated_cells:,} cells held flat beyond the first/last estimate"
                )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Panel:
    """One area x period panel.

    Attributes
    ----------
    frequency
        Frequency name of the periods.
    data
        One row per area and period, sorted by ``area_code`` then ``period``: ``area_code``,
        ``area_name``, ``period`` (pandas Period), ``period_label``, ``t`` (0 at the first
        period), the variables, their suppression columns, and derived columns added later.
    variables
        Dictionary variables present, by name.
    rules
        Suppression rules of the variables that have one.
    origin
        Source name of each variable.
    report
        The :class:`JoinReport`.
    derived
        Description of each derived column (rates, timing, harm index), added by later steps.
    outcomes
        Columns an analysis may evaluate, with their role and plain-language label: the
        activity, harm and benefit variables, and the rates and harm indices derived from them.
    """

    frequency: str
    data: pd.DataFrame
    variables: dict[str, Variable]
    rules: dict[str, SuppressionRule]
    origin: dict[str, str]
    report: JoinReport
    derived: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def areas(self) -> list[str]:
        """Area codes in panel order."""
        return list(pd.unique(self.data["area_code"]))

    @property
    def periods(self) -> pd.PeriodIndex:
        """Periods in order."""
        return pd.PeriodIndex(pd.unique(self.data["period"]))


def _panel_frequencies(parsed: dict[str, ParsedSource], main: str) -> list[str]:
    extra: list[str] = []
    for p in parsed.values():
        if p.frequency is None or _all_stock(p.variables):
            continue
        if not can_aggregate(p.frequency, main) and p.frequency not in extra:
            extra.append(p.frequency)
    return [main, *sorted(extra, key=list(PANDAS_FREQ).index)]


def _all_stock(variables: list[Variable]) -> bool:
    return bool(variables) and all(v.aggregation == "stock" for v in variables)


def _area_universe(parsed: dict[str, ParsedSource]) -> tuple[list[str], str, dict[str, str]]:
    names: dict[str, str] = {}
    for p in parsed.values():
        if "area_name" in p.frame.columns:
            pairs = p.frame[["area_code", "area_name"]].dropna().drop_duplicates("area_code")
            for code, name in zip(pairs["area_code"].tolist(), pairs["area_name"].tolist(), strict=True):
                names.setdefault(code, name)
    for entity in ("area_lookup", "population"):
        for p in parsed.values():
            if p.entity.name == entity:
                codes = p.frame["area_code"].dropna()
                return sorted(pd.unique(codes[codes != ""]).tolist()), f"source '{p.name}'", names
    codes_all: set[str] = set()
    for p in parsed.values():
        if p.entity.is_series:
            codes_all.update(pd.unique(p.frame["area_code"].dropna()).tolist())
    return sorted(codes_all), "the union of all sources (no area lookup given)", names


def build_panels(
    parsed: dict[str, ParsedSource],
    *,
    frequency: str,
    start: str | None = None,
    end: str | None = None,
    policy: str = "strict",
    context: str = "data",
) -> dict[str, Panel]:
    """Join parsed sources into one panel per frequency needed.

    Parameters
    ----------
    parsed
        Validated sources by name (from :func:`evaluate.data.validate.validate_sources`).
    frequency
        The main panel frequency (``data.frequency``).
    start, end
        Optional first and last period (config text); by default the span of the flow sources'
        complete periods.
    policy
        ``"strict"`` or ``"report"`` (see module docstring).
    context
        Config location for messages.

    Returns
    -------
    dict
        Panels by frequency name; the first is the main panel.

    Raises
    ------
    JoinError
        Under ``strict``, if any row has an unknown area (all sources are checked first).
    DataError
        If two sources provide the same variable, or no source covers the panel.
    """
    providers: dict[str, str] = {}
    for p in parsed.values():
        for v in p.variables:
            if v.name in providers:
                raise DataError(
                    f"{context}.sources: variable '{v.name}' comes from both '{providers[v.name]}' "
                    f"and '{p.name}'; keep it in one (list it under ignore_columns in the other)"
                )
            providers[v.name] = p.name
    areas, area_source, names = _area_universe(parsed)
    panels: dict[str, Panel] = {}
    failures: list[str] = []
    for freq in _panel_frequencies(parsed, frequency):
        panel, problems = _build_one(
            parsed, freq, areas, area_source, names, start, end, policy, context, main=frequency
        )
        panels[freq] = panel
        failures += problems
    if failures:
        main = panels[frequency].report
        unique = list(dict.fromkeys(failures))  # the same source fails in every panel
        raise JoinError(
            f"{context}.join: {'; '.join(unique)}; fix the codes or add the areas to the area "
            "lookup, or set data.join.policy: report to leave these rows out and list them",
            report=main,
        )
    return panels


def _build_one(
    parsed: dict[str, ParsedSource],
    freq: str,
    areas: list[str],
    area_source: str,
    names: dict[str, str],
    start: str | None,
    end: str | None,
    policy: str,
    context: str,
    *,
    main: str,
) -> tuple[Panel, list[str]]:
    series = [p for p in parsed.values() if p.frequency is not None]
    flows = [p for p in series if not _all_stock(p.variables) and can_aggregate(p.frequency, freq)]
    stocks = [p for p in series if _all_stock(p.variables)]

    converted: dict[str, tuple[pd.DataFrame, HarmoniseNote]] = {}
    for p in flows:
        converted[p.name] = _convert(p, freq)

    first, last, window_source = _window(converted, freq, start, end, context, main)
    periods = pd.period_range(first, last, freq=first.freq)
    area_index = pd.Index(areas, dtype="string")
    skeleton = pd.MultiIndex.from_product([area_index, periods], names=["area_code", "period"])
    data = pd.DataFrame(index=skeleton)

    variables: dict[str, Variable] = {}
    rules: dict[str, SuppressionRule] = {}
    origin: dict[str, str] = {}
    joins: list[SourceJoin] = []
    problems: list[str] = []
    area_set = set(areas)
    for p in flows:
        frame, note = converted.pop(p.name)  # released once joined (a copy of the source)
        known = frame["area_code"].isin(area_set)
        ords = pd.PeriodIndex(frame["period"]).asi8
        inside = (ords >= first.ordinal) & (ords <= last.ordinal)
        matched = known.to_numpy() & inside
        unknown = ~known.to_numpy()
        outside = known.to_numpy() & ~inside
        unmatched = [
            f"{a} {period_label(pp, freq)}"
            for a, pp in frame.loc[unknown, ["area_code", "period"]].head(MAX_LISTED).itertuples(index=False)
        ]
        if unknown.any() and policy == "strict":
            bad = sorted(pd.unique(frame.loc[unknown, "area_code"]).tolist())
            problems.append(
                f"source '{p.name}' has {int(unknown.sum()):,} rows for {len(bad)} area(s) not in "
                f"the panel ({', '.join(map(str, bad[:5]))})"
            )
        cols = [c for c in frame.columns if c not in ("area_code", "period", "__complete")]
        placed = frame.loc[matched].set_index(["area_code", "period"])[cols]
        placed.index = placed.index.set_levels(placed.index.levels[0].astype("string"), level=0)
        data = data.join(placed, how="left")
        present_areas = set(pd.unique(frame.loc[matched, "area_code"]).tolist())
        present_periods = set(np.unique(ords[matched]).tolist())
        joins.append(
            SourceJoin(
                source=p.name,
                from_frequency=p.frequency or freq,
                method=note.method,
                rows_in=p.rows,
                rows_harmonised=len(frame),
                rows_matched=int(matched.sum()),
                rows_outside_window=int(outside.sum()),
                rows_unknown_area=int(unknown.sum()),
                incomplete_periods=int((~frame.loc[matched, "__complete"]).sum()),
                unmatched_keys=unmatched,
                areas_missing=[a for a in areas if a not in present_areas][:MAX_LISTED],
                periods_missing=[
                    period_label(pp, freq) for pp in periods if pp.ordinal not in present_periods
                ][:MAX_LISTED],
            )
        )
        for v in p.variables:
            variables[v.name] = v
            origin[v.name] = p.name
            if v.name in p.rules:
                rules[v.name] = p.rules[v.name]

    for p in stocks:
        for v in p.variables:
            values, extrapolated = interpolate_stock(
                p.frame, v.name, areas=areas, target_periods=periods
            )
            values["area_code"] = values["area_code"].astype("string")
            data = data.join(values.set_index(["area_code", "period"])[[v.name]], how="left")
            variables[v.name] = v
            origin[v.name] = p.name
        have = set(pd.unique(p.frame["area_code"].dropna()).tolist())
        stray = sorted(have - area_set)
        if stray and policy == "strict":
            problems.append(
                f"source '{p.name}' has {int((~p.frame['area_code'].isin(area_set)).sum()):,} rows for "
                f"{len(stray)} area(s) not in the panel ({', '.join(map(str, stray[:5]))})"
            )
        joins.append(
            SourceJoin(
                source=p.name,
                from_frequency=p.frequency or "year",
                method="interpolated at period midpoints between estimates (a stock)",
                rows_in=p.rows,
                rows_harmonised=p.rows,
                rows_matched=int(p.frame["area_code"].isin(area_set).sum()),
                rows_outside_window=0,
                rows_unknown_area=int((~p.frame["area_code"].isin(area_set)).sum()),
                incomplete_periods=0,
                areas_missing=[a for a in areas if a not in have][:MAX_LISTED],
                extrapolated_cells=extrapolated,
            )
        )

    data = data.reset_index()
    data["area_code"] = data["area_code"].astype("string")
    data.insert(1, "area_name", _area_names(data["area_code"], areas, names))
    data.insert(3, "period_label", period_labels(data["period"], freq))
    data.insert(4, "t", (pd.PeriodIndex(data["period"]).asi8 - first.ordinal).astype(np.int64))
    report = JoinReport(
        frequency=freq,
        policy=policy,
        areas=len(areas),
        periods=len(periods),
        first_period=period_label(first, freq),
        last_period=period_label(last, freq),
        rows=len(data),
        area_source=area_source,
        window_source=window_source,
        sources=joins,
    )
    if freq != main:
        report.notes.append(
            f"this {freq} panel exists because some sources are coarser than {main}; they are "
            f"never split into {main} values. Analyses use it with frequency: {freq}."
        )
    outcomes = {
        name: (v.role, v.label) for name, v in variables.items() if v.role in OUTCOME_ROLES
    }
    return Panel(freq, data, variables, rules, origin, report, outcomes=outcomes), problems


def _area_names(codes: pd.Series, areas: list[str], names: dict[str, str]) -> pd.Categorical:
    """Each row's area name (an area without a name shows its code), as a categorical.

    A name repeats in every period of its area: stored once per area, not once per row (as text,
    the names of a 5-million-row small-area panel took ~300 MB).
    """
    labels = pd.Index([names.get(code, code) for code in areas], dtype="string")
    categories, which = np.unique(labels.to_numpy(dtype=object), return_inverse=True)
    position = pd.Index(areas, dtype="string").get_indexer(codes)
    return pd.Categorical.from_codes(
        np.asarray(which)[position], categories=pd.Index(categories, dtype="string")
    )


def _convert(p: ParsedSource, freq: str) -> tuple[pd.DataFrame, HarmoniseNote]:
    frame, note = to_frequency(
        p.frame,
        p.variables,
        source=p.name,
        source_frequency=p.frequency or freq,
        target=freq,
    )
    return frame.dropna(subset=["area_code", "period"]), note


def _window(
    converted: dict[str, tuple[pd.DataFrame, HarmoniseNote]],
    freq: str,
    start: str | None,
    end: str | None,
    context: str,
    main: str,
) -> tuple[pd.Period, pd.Period, str]:
    pfreq = PANDAS_FREQ[freq]
    firsts, lasts = [], []
    for frame, _ in converted.values():
        ok = frame.loc[frame["__complete"], "period"].dropna()
        if len(ok):
            firsts.append(ok.min())
            lasts.append(ok.max())
    if not firsts and (start is None or end is None):
        raise DataError(
            f"{context}: no source has complete {freq} periods to build a panel from; check the "
            "sources' periods and frequencies"
        )
    first = parse_period(start, freq, context=f"{context}.start") if start else min(firsts)
    last = parse_period(end, freq, context=f"{context}.end") if end else max(lasts)
    if firsts and (start or end) and (last < min(firsts) or first > max(lasts)):
        have = f"{period_label(min(firsts), freq)} to {period_label(max(lasts), freq)}"
        raise DataError(
            f"{context}.start/end: the window {period_label(first, freq)} to "
            f"{period_label(last, freq)} does not overlap the sources' periods ({have}); fix "
            "data.start and data.end, or remove them to use the data's span"
        )
    if freq == "week" and firsts:
        first, last = pd.Period(first.start_time, firsts[0].freq), pd.Period(last.start_time, firsts[0].freq)
    else:
        first, last = first.asfreq(pfreq), last.asfreq(pfreq)
    if last < first:
        raise DataError(f"{context}: end {period_label(last, freq)} is before start {period_label(first, freq)}")
    how = "data.start/data.end" if start and end else "the sources' complete periods"
    return first, last, how
