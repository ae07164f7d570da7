"""What a run publishes, under disclosure control: its charts and its count tables.

Publishing happens in three steps, so that one ledger protects every count of the run at once:

1. **Plan.** Build each chart's data and each count table, and register every count they show
   (as the set of area-period cells it sums) in a :class:`~evaluate.results.disclosure.DisclosureLedger`.
2. **Resolve.** Primary and secondary suppression over the whole ledger: a count hidden in one
   output cannot be recovered from another (a monthly point from a before/after total).
3. **Render.** Mark suppressed points and cells, draw and save the charts, format the tables.

Counts published, and how they are protected:

* ITS charts: the observed series of one area or the treated total, when it is a count or a rate
  of a count. Its points form one group: if any must be hidden, all are (with the fitted line and
  the counterfactual on the chart, hiding one point alone would not protect it).
* Trend charts: each group's total count (or the rate built on it) per period.
* Outputs-vs-outcomes chart: the treated areas' total per block of periods, indexed to the
  pre-period; each line is one group (its index points sum to a known total over the pre-period).
* Count tables: events before and after the start by group, with totals.

Model estimates (fitted lines, counterfactuals, coefficients) are not counts and are not
suppressed; harm-index values are weighted sums of counts and are not suppressed either (a
limitation the report states).

Chart types plug in through :func:`register_result_chart`: a test (does this result carry what
the chart needs?) and a builder, so results of methods added later get their charts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluate.charts.style import SavedChart, chart_slug, save_figure
from evaluate.config.analyses import AnalysisBase
from evaluate.data.join import Panel
from evaluate.designs.frames import AnalysisFrame, analysis_frame
from evaluate.report.content import ReportContent
from evaluate.results.disclosure import NOT_AVAILABLE, SUPPRESSED, CellKey, DisclosureLedger
from evaluate.results.effect import EffectResult

__all__ = [
    "PublishedChart",
    "CountTable",
    "Publication",
    "build_publication",
    "register_result_chart",
    "RESULT_CHARTS",
]

GROUP_TREATED = "Treated areas"
GROUP_COMPARISON = "Comparison areas"
GROUP_ALL = "All areas"
COLUMNS = ("Before the start", "After the start", "Total")


@dataclass
class PublishedChart:
    """A chart of the run, saved and ready for the report.

    Attributes
    ----------
    kind
        ``forest``, ``outputs_outcomes``, ``its``, ``trend``, ``event_study``, ...
    section
        ``overview`` or the analysis it belongs to.
    result
        Index of the result it draws (in ``content.results``), if any.
    saved
        The PNG and SVG files and the alt text.
    caption
        A caption for the report.
    data
        The plot data after disclosure control.
    """

    kind: str
    section: str
    saved: SavedChart
    caption: str
    data: pd.DataFrame
    result: int | None = None

    @property
    def alt(self) -> str:
        """The chart's alt text."""
        return self.saved.alt


@dataclass
class CountTable:
    """Events before and after the start by group, for one analysis, after disclosure control.

    Attributes
    ----------
    section
        The analysis.
    rows
        Long form: ``outcome``, ``outcome_label``, ``variable``, ``group``, then the
        :data:`COLUMNS` as numbers (NaN: not available).
    status
        Same shape as the count columns: ``shown``, ``suppressed`` or ``unavailable``.
    caption
        What the table counts.
    """

    section: str
    rows: pd.DataFrame
    status: pd.DataFrame
    caption: str

    def published(self) -> pd.DataFrame:
        """The table as published: numbers, ``[c]`` and ``[x]``."""
        out = self.rows.copy()
        for c in COLUMNS:
            values = out[c].astype(object)
            values[self.status[c] == "suppressed"] = SUPPRESSED
            values[self.status[c] == "unavailable"] = NOT_AVAILABLE
            out[c] = values
        return out


@dataclass
class Publication:
    """Charts, count tables and the disclosure summary of a run."""

    charts: list[PublishedChart] = field(default_factory=list)
    tables: list[CountTable] = field(default_factory=list)
    disclosure: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def charts_for(self, section: str, result: int | None = None) -> list[PublishedChart]:
        """Charts of a section (and of one result in it)."""
        return [c for c in self.charts if c.section == section and (result is None or c.result == result)]

    def table_for(self, section: str) -> CountTable | None:
        """The count table of an analysis."""
        return next((t for t in self.tables if t.section == section), None)


# --- counts from the panel ---------------------------------------------------------------


class _Counts:
    """Cell values and atoms from the panels; atoms at the main frequency where periods nest."""

    def __init__(self, content: ReportContent) -> None:
        self.content = content
        self.main = content.main_frequency
        self._lookup: dict[tuple[str, str], dict[tuple[str, Any], float]] = {}
        self._expanded: dict[tuple[str, str, Any], list[str]] = {}
        main = content.panels.get(self.main)
        self.main_freq = main.data["period"].dtype.freq if main is not None else None
        self.main_vars = set(main.variables) if main is not None else set()

    def _values(self, freq: str, var: str) -> dict[tuple[str, Any], float]:
        key = (freq, var)
        if key not in self._lookup:
            data = self.content.panels[freq].data
            self._lookup[key] = dict(zip(zip(data["area_code"], data["period"], strict=True),
                                         data[var].astype(float), strict=True))
        return self._lookup[key]

    def _expand(self, freq: str, var: str, period: pd.Period) -> list[str]:
        key = (freq, var, period)
        hit = self._expanded.get(key)
        if hit is not None:
            return hit
        out = [f"{freq}:{period}"]
        if freq != self.main and var in self.main_vars and self.main_freq is not None:
            inner = pd.period_range(period.start_time, period.end_time, freq=self.main_freq)
            if len(inner) and inner[0].start_time == period.start_time and inner[-1].end_time == period.end_time:
                out = [f"{self.main}:{p}" for p in inner]
        self._expanded[key] = out
        return out

    def cell(self, freq: str, var: str, pairs: Iterable[tuple[str, pd.Period]]) -> tuple[list[Hashable], float]:
        """Atoms and total of ``var`` over (area, period) pairs (NaN if any is missing)."""
        values = self._values(freq, var)
        atoms: list[Hashable] = []
        total = 0.0
        for area, period in pairs:
            v = values.get((area, period), math.nan)
            total += v
            atoms += [(var, area, p) for p in self._expand(freq, var, period)]
        return atoms, total


def count_variable(outcome: str, panel: Panel) -> str | None:
    """The count an outcome is built on: itself, the base of ``<count>_rate``, or ``None``."""
    v = panel.variables.get(outcome)
    if v is not None and v.is_count:
        return outcome
    base = outcome.removesuffix("_rate")
    v = panel.variables.get(base)
    if outcome.endswith("_rate") and v is not None and v.is_count:
        return base
    return None


def _period_map(panel: Panel) -> dict[str, pd.Period]:
    return {str(p): p for p in panel.periods}


# --- the builder ---------------------------------------------------------------------------


class _Builder:
    """Collects charts and tables, registers their counts, then renders them."""

    def __init__(self, content: ReportContent, charts_dir: Path) -> None:
        self.content = content
        self.dir = charts_dir
        self.ledger = DisclosureLedger(content.min_count)
        self.counts = _Counts(content)
        self.renders: list[Callable[[], PublishedChart | None]] = []
        self.table_renders: list[Callable[[], CountTable]] = []
        self.notes: list[str] = []
        self._frames: dict[str, AnalysisFrame] = {}
        self._done: set[tuple[str, ...]] = set()
        self._shared: dict[tuple[Any, ...], Callable[[], PublishedChart]] = {}

    # frames of analyses, rebuilt as the pipeline built them
    def frame(self, analysis: AnalysisBase) -> AnalysisFrame | None:
        if analysis.name in self._frames:
            return self._frames[analysis.name]
        panel = self.content.panel_of(analysis)
        freq = analysis.frequency or self.content.main_frequency
        timing = self.content.timings.get(analysis.intervention, {}).get(freq)
        if panel is None or timing is None:
            return None
        excluded = list(analysis.exclude_areas)
        for other in analysis.exclude_treated_by:
            t = self.content.timings.get(other, {}).get(freq)
            if t is not None:
                excluded += [a for a in t.treated_areas if a not in excluded]
        frame = analysis_frame(panel.data, intervention=analysis.intervention, exclude_areas=excluded,
                               phase_in_handling=timing.phase_in_handling)
        self._frames[analysis.name] = frame
        return frame

    def groups(self, analysis: AnalysisBase) -> dict[str, list[str]]:
        frame = self.frame(analysis)
        if frame is None:
            return {}
        treated = frame.data[frame.columns["treated"]].to_numpy(dtype=bool)
        areas = frame.data["area_code"]
        out = {GROUP_TREATED: sorted(set(areas[treated])), GROUP_COMPARISON: sorted(set(areas[~treated]))}
        return {k: v for k, v in out.items() if v}

    def add_chart(self, render: Callable[[], PublishedChart | None]) -> None:
        self.renders.append(render)

    def save(self, fig: Any, name: str, alt: str, title: str = "") -> SavedChart:
        return save_figure(fig, self.dir, name, alt, title=title)

    def render_all(self) -> Publication:
        """Draw every chart (after the disclosure ledger is resolved), then the count tables.

        Charts are independent, so with many of them they are drawn by forked worker processes
        (one per core; :func:`evaluate.grid.run_grid`), which inherit this builder; the files and
        their order are the same as drawn here.
        """
        import multiprocessing as mp

        from evaluate.grid import default_workers, run_grid

        self.ledger.resolve()
        pub = Publication()
        n = len(self.renders)
        workers = min(default_workers(), max(1, n // PARALLEL_CHARTS_MIN))
        if workers > 1 and "fork" in mp.get_all_start_methods():
            drawn = run_grid(_render_one, list(range(n)), shared=self, workers=workers, desc="charts")
        else:
            drawn = [_render_one(self, i) for i in range(n)]
        for chart, note in drawn:
            if note:
                self.notes.append(note)
            if chart is not None:
                pub.charts.append(chart)
        pub.tables = [r() for r in self.table_renders]
        pub.disclosure = self.ledger.summary()
        pub.notes = self.notes
        return pub


PARALLEL_CHARTS_MIN = 8
"""Charts per worker process below which drawing in one process is quicker than forking."""


def _render_one(builder: _Builder, i: int) -> tuple[PublishedChart | None, str]:
    """Draw chart ``i`` of a builder: the chart, or a note saying why it could not be drawn."""
    try:
        return builder.renders[i](), ""
    except Exception as exc:  # noqa: BLE001 - one chart must not sink the report; it says so
        return None, f"a chart could not be drawn ({type(exc).__name__}: {exc})"


ResultChart = Callable[[_Builder, int, EffectResult], None]
RESULT_CHARTS: list[tuple[str, Callable[[EffectResult], bool], ResultChart]] = []
"""Per-result chart types: ``(kind, applies(result), build(builder, index, result))``."""


def register_result_chart(kind: str, applies: Callable[[EffectResult], bool]) -> Callable[[ResultChart], ResultChart]:
    """Decorator registering a per-result chart type (tried in registration order)."""

    def wrap(build: ResultChart) -> ResultChart:
        RESULT_CHARTS.append((kind, applies, build))
        return build

    return wrap


def _has_its_series(r: EffectResult) -> bool:
    s = r.plot_data.get("series")
    return r.method == "its" and s is not None and "counterfactual" in s.columns


@register_result_chart("its", _has_its_series)
def _its_chart(b: _Builder, i: int, r: EffectResult) -> None:
    from evaluate.charts.its import its_alt, its_data, plot_its

    analysis = b.content.analysis(r.analysis)
    panel = b.content.panel_of(analysis) if analysis else None
    keys: list[CellKey] = []
    if analysis is not None and panel is not None:
        var = count_variable(r.outcome, panel)
        frame = b.frame(analysis)
        if var is not None and frame is not None:
            areas = b.groups(analysis).get(GROUP_TREATED, []) if r.unit == "treated total" else [r.unit]
            pmap = _period_map(panel)
            stem = chart_slug(r.analysis, r.outcome, r.unit)
            for label in r.plot_data["series"]["period"].astype(str):
                period = pmap.get(label)
                if period is None:
                    keys = []
                    break
                atoms, value = b.counts.cell(panel.frequency, var, [(a, period) for a in areas])
                keys.append(b.ledger.add(atoms, value, group=f"its:{i}", where=f"chart {stem}"))
    iv = b.content.intervention_label(r.intervention)
    timing = b.content.timings.get(r.intervention, {}).get(panel.frequency if panel else "")
    flagged = timing.phase_in_periods if timing is not None and timing.phase_in_handling == "flag" else None

    def render() -> PublishedChart:
        shown = [b.ledger.is_shown(k) for k in keys] if keys else None
        data = its_data(r, observed_shown=shown)
        fig = plot_its(r, data=data, phase_in_periods=flagged, intervention_label=iv)
        alt = its_alt(r, data, intervention_label=iv)
        saved = b.save(fig, chart_slug(r.analysis, r.outcome, r.unit), alt,
                       title=f"{r.outcome_label} ({r.unit}): interrupted time series")
        caption = (f"{r.outcome_label}, {r.unit}: observed values, model fit and the counterfactual "
                   f"(expected without {iv}) with its {r.ci_level:.0%} interval.")
        return PublishedChart("its", r.analysis, saved, caption, data, i)

    b.add_chart(render)


def _synthetic_applies(r: EffectResult) -> bool:
    s = r.plot_data.get("series")
    return s is not None and {"period", "treated", "synthetic"} <= set(s.columns)


@register_result_chart("synthetic", _synthetic_applies)
def _synthetic_chart(b: _Builder, i: int, r: EffectResult) -> None:
    """Treated series against its synthetic control, and its gap among the placebo gaps
    (:mod:`evaluate.charts.synth`); the treated values of one area are counts under control."""
    from evaluate.charts import synth

    analysis = b.content.analysis(r.analysis)
    panel = b.content.panel_of(analysis) if analysis else None
    keys: list[CellKey | None] = []
    series = synth.synth_series_data(r)
    var = count_variable(r.outcome, panel) if panel is not None else None
    if panel is not None and var is not None and r.unit in set(panel.areas):
        pmap = _period_map(panel)
        stem = chart_slug(r.analysis, r.outcome, r.unit, "synthetic")
        for label in series["period"]:
            period = pmap.get(str(label))
            if period is None:
                keys.append(None)
                continue
            atoms, value = b.counts.cell(panel.frequency, var, [(r.unit, period)])
            keys.append(b.ledger.add(atoms, value, group=f"synth:{i}", where=f"chart {stem}"))

    def shown() -> list[bool] | None:
        return [k is None or b.ledger.is_shown(k) for k in keys] if keys else None

    def render_series() -> PublishedChart:
        data = synth.synth_series_data(r, treated_shown=shown())
        saved = b.save(synth.plot_synth_series(r, data=data), chart_slug(r.analysis, r.outcome, r.unit, "synthetic"),
                       synth.synth_series_alt(r, data))
        caption = (f"{r.outcome_label} in {r.unit} and in its synthetic control (a weighted mix of comparison areas "
                   "chosen to track it before the start); the gap after the start is the estimated effect.")
        return PublishedChart("synthetic", r.analysis, saved, caption, data, i)

    b.add_chart(render_series)
    if "placebo_gaps" in r.plot_data:

        def render_gaps() -> PublishedChart:
            data = synth.synth_gaps_data(r, treated_shown=shown())
            saved = b.save(synth.plot_synth_gaps(r, data=data), chart_slug(r.analysis, r.outcome, r.unit, "gaps"),
                           synth.synth_gaps_alt(r, data))
            caption = (f"The gap between {r.unit} and its synthetic control (thick line) over the same gap for every "
                       "comparison area fitted as if it had been treated (thin lines): an effect is credible when "
                       "the treated gap stands out after the start.")
            return PublishedChart("synthetic_gaps", r.analysis, saved, caption, data, i)

        b.add_chart(render_gaps)

    if "weights" in r.plot_data:

        def render_weights() -> PublishedChart:
            data = synth.synth_weights_data(r)
            saved = b.save(synth.plot_synth_weights(r, data=data), chart_slug(r.analysis, r.outcome, r.unit, "weights"),
                           synth.synth_weights_alt(r, data))
            caption = (f"The comparison areas that make up the synthetic {r.unit} and their weights (they sum to 1); "
                       "a synthetic control resting on one or two areas is fragile.")
            return PublishedChart("synthetic_weights", r.analysis, saved, caption, data, i)

        b.add_chart(render_weights)


def _bacon_applies(r: EffectResult) -> bool:
    d = r.plot_data.get("bacon")
    return d is not None and not d.empty


@register_result_chart("bacon", _bacon_applies)
def _bacon_chart(b: _Builder, i: int, r: EffectResult) -> None:
    """The Goodman-Bacon decomposition of a TWFE estimate (:mod:`evaluate.charts.bacon`)."""
    from evaluate.charts.bacon import bacon_alt, bacon_data, plot_bacon

    def render() -> PublishedChart:
        data = bacon_data(r)
        saved = b.save(plot_bacon(r, data=data), chart_slug(r.analysis, r.outcome, r.unit, "bacon"), bacon_alt(r, data))
        caption = (f"What the TWFE estimate of {r.outcome_label} is made of: every comparison of two adoption groups, "
                   "its weight and its estimate. Comparisons with areas already treated (triangles) bias TWFE when "
                   "effects change over time.")
        return PublishedChart("bacon", r.analysis, saved, caption, data, i)

    b.add_chart(render)


def _event_applies(r: EffectResult) -> bool:
    from evaluate.charts.event_study import has_event_study

    return has_event_study(r) and not _synthetic_applies(r)  # a synthetic control's gap chart says it


@register_result_chart("event_study", _event_applies)
def _event_chart(b: _Builder, i: int, r: EffectResult) -> None:
    from evaluate.charts.event_study import event_study_alt, event_study_data, plot_event_study

    def render() -> PublishedChart:
        data = event_study_data(r)
        fig = plot_event_study(r, data=data)
        alt = event_study_alt(r, data)
        saved = b.save(fig, chart_slug(r.analysis, r.outcome, r.unit, "event_study"), alt)
        caption = f"{r.outcome_label}: effects by periods since the start, with {r.ci_level:.0%} intervals."
        return PublishedChart("event_study", r.analysis, saved, caption, data, i)

    b.add_chart(render)


def _trend_applies(r: EffectResult) -> bool:
    return r.method != "its" and not _synthetic_applies(r)


@register_result_chart("trend", _trend_applies)
def _trend_chart(b: _Builder, i: int, r: EffectResult) -> None:
    from evaluate.charts.trend import plot_trend, trend_alt, trend_data

    if ("trend", r.analysis, r.outcome) in b._done:
        return
    b._done.add(("trend", r.analysis, r.outcome))
    analysis = b.content.analysis(r.analysis)
    if analysis is None:
        return
    panel, frame = b.content.panel_of(analysis), b.frame(analysis)
    if panel is None or frame is None or r.outcome not in frame.data.columns:
        return
    groups = b.groups(analysis)
    # analyses of one intervention with the same groups share one chart (drawn once)
    same = ("trend", r.intervention, panel.frequency, r.outcome, frame.n_input - len(frame.data),
            *(tuple(v) for v in groups.values()))
    if same in b._shared:
        first = b._shared[same]

        def reuse() -> PublishedChart:
            c = first()
            return PublishedChart(c.kind, r.analysis, c.saved, c.caption, c.data, i)

        b.add_chart(reuse)
        return
    var = count_variable(r.outcome, panel)
    population = b.content.config.data.population
    data = trend_data(frame.data, outcome=r.outcome, groups=groups, count=var,
                      population=population if population in frame.data.columns else None,
                      per=b.content.config.data.rate_per)
    stem = chart_slug(r.analysis, r.outcome, "trend")
    keys: list[CellKey | None] = []
    pmap = _period_map(panel)
    for _, row in data.iterrows():
        if var is None or not np.isfinite(row["count"]):
            keys.append(None)
            continue
        period = pmap[row["period"]]
        atoms, value = b.counts.cell(panel.frequency, var, [(a, period) for a in groups[row["group"]]])
        keys.append(b.ledger.add(atoms, value, where=f"chart {stem}"))
    timing = b.content.timings[r.intervention][panel.frequency]
    iv = b.content.intervention_label(r.intervention)
    starts = []
    for label in timing.cohorts:
        p = pmap.get(str(label))
        if p is not None:
            starts.append((float(p.ordinal), f"{iv} starts ({label})"))

    made: list[PublishedChart] = []

    def render() -> PublishedChart:
        if made:
            return made[0]
        d = data.copy()
        d["suppressed"] = [k is not None and not b.ledger.is_shown(k) for k in keys]
        d.loc[d["suppressed"], ["value", "count"]] = np.nan
        fig = plot_trend(d, starts=starts, ylabel=r.outcome_label,
                         title=f"{r.outcome_label}: treated and comparison areas")
        alt = trend_alt(d, outcome_label=r.outcome_label, starts=starts)
        saved = b.save(fig, stem, alt)
        caption = (f"{r.outcome_label} in treated and comparison areas over time (group totals"
                   f"{', as rates of the total' if r.outcome.endswith('_rate') else ''}); vertical lines mark starts.")
        made.append(PublishedChart("trend", r.analysis, saved, caption, d, i))
        return made[0]

    b._shared[same] = render
    b.add_chart(render)


# --- count tables --------------------------------------------------------------------------


def _table_pairs_its(b: _Builder, analysis: AnalysisBase, r: EffectResult, panel: Panel) -> dict[str, dict[str, list[tuple[str, pd.Period]]]] | None:
    """(group -> column -> (area, period) pairs) for an ITS result."""
    series = r.plot_data.get("series")
    if series is None:
        return None
    pmap = _period_map(panel)
    periods = [pmap.get(str(p)) for p in series["period"]]
    if any(p is None for p in periods):
        return None
    post = series["post"].to_numpy(dtype=bool)
    groups = b.groups(analysis)
    unit_areas = groups.get(GROUP_TREATED, []) if r.unit == "treated total" else [r.unit]
    rows = {f"{r.unit}" if r.unit != "treated total" else GROUP_TREATED: unit_areas}
    ctrl = getattr(analysis, "control", None)
    if ctrl == "untreated_total" and groups.get(GROUP_COMPARISON):
        rows[GROUP_COMPARISON] = groups[GROUP_COMPARISON]
    out: dict[str, dict[str, list[tuple[str, pd.Period]]]] = {}
    for label, areas in rows.items():
        out[label] = {
            COLUMNS[0]: [(a, p) for a in areas for p, q in zip(periods, post, strict=True) if not q],
            COLUMNS[1]: [(a, p) for a in areas for p, q in zip(periods, post, strict=True) if q],
        }
    return out


def _table_pairs_groups(b: _Builder, analysis: AnalysisBase) -> dict[str, dict[str, list[tuple[str, pd.Period]]]] | None:
    frame = b.frame(analysis)
    if frame is None:
        return None
    data = frame.data
    post = data[f"{analysis.intervention}__post_calendar"].to_numpy(dtype=bool)
    treated = data[frame.columns["treated"]].to_numpy(dtype=bool)
    out = {}
    for label, mask in ((GROUP_TREATED, treated), (GROUP_COMPARISON, ~treated)):
        if not mask.any():
            continue
        sub = data[mask]
        p = post[mask]
        out[label] = {
            COLUMNS[0]: list(zip(sub["area_code"][~p], sub["period"][~p], strict=True)),
            COLUMNS[1]: list(zip(sub["area_code"][p], sub["period"][p], strict=True)),
        }
    return out


def _count_table(b: _Builder, analysis: AnalysisBase) -> None:
    """Register and plan the before/after count table of an analysis."""
    panel = b.content.panel_of(analysis)
    if panel is None:
        return
    records: list[dict[str, Any]] = []
    keys: list[dict[str, CellKey]] = []
    seen: set[tuple[str, str]] = set()
    for r in b.content.results_of(analysis.name):
        var = count_variable(r.outcome, panel)
        if var is None or (var, r.unit) in seen:
            continue
        seen.add((var, r.unit))
        pairs = (_table_pairs_its(b, analysis, r, panel) if r.method == "its" else _table_pairs_groups(b, analysis))
        if not pairs:
            continue
        label = panel.variables[var].label
        if len(pairs) > 1:
            pairs = {**pairs, GROUP_ALL: {c: [x for g in pairs.values() for x in g[c]] for c in COLUMNS[:2]}}
        for group, cols in pairs.items():
            rec: dict[str, Any] = {"outcome": r.outcome, "outcome_label": label, "variable": var, "group": group}
            k: dict[str, CellKey] = {}
            for c in COLUMNS:
                cell_pairs = cols[c] if c in cols else cols[COLUMNS[0]] + cols[COLUMNS[1]]
                if not cell_pairs:
                    rec[c] = math.nan
                    continue
                atoms, value = b.counts.cell(panel.frequency, var, cell_pairs)
                rec[c] = value
                k[c] = b.ledger.add(atoms, value, where=f"table {analysis.name}")
            records.append(rec)
            keys.append(k)
    if not records:
        return
    rows = pd.DataFrame.from_records(records)
    caption = (f"{analysis.name}: number of events before and after the start, by group "
               f"(counts below {b.content.min_count} and cells that would reveal them are shown as {SUPPRESSED}; "
               f"{NOT_AVAILABLE}: not available because the data include missing or suppressed values).")

    def render() -> CountTable:
        status = pd.DataFrame(
            [{c: (b.ledger.status(k[c]) if c in k else "unavailable") for c in COLUMNS} for k in keys]
        )
        return CountTable(analysis.name, rows, status, caption)

    b.table_renders.append(render)


# --- overview charts -------------------------------------------------------------------------


def _forest(b: _Builder) -> None:
    from evaluate.charts.forest import forest_alt, forest_data, plot_forest

    data = forest_data(b.content.results)
    if not np.isfinite(data["estimate"].to_numpy(dtype=float)).any():
        return

    def render() -> PublishedChart:
        fig = plot_forest(data)
        saved = b.save(fig, "forest", forest_alt(data), title="Effects on harm and benefit outcomes")
        caption = ("Relative change in each harm and benefit outcome with its interval; left of the line "
                   "means fewer events. Police activity is not shown: it is not a harm outcome.")
        return PublishedChart("forest", "overview", saved, caption, data)

    b.add_chart(render)


def _outputs_outcomes(b: _Builder, name: str) -> None:
    from evaluate.charts.outputs_outcomes import (
        outputs_outcomes_alt,
        outputs_outcomes_data,
        plot_outputs_outcomes,
    )

    content = b.content
    freq = content.main_frequency
    panel = content.panels.get(freq)
    timing = content.timings.get(name, {}).get(freq)
    if panel is None or timing is None or not timing.treated_areas:
        return
    wanted: dict[str, list[str]] = {"activity": [], "harm": []}
    for a in content.config.analyses:
        if a.intervention != name:
            continue
        for o in a.outcomes:
            var = count_variable(o, panel)
            if var is not None and panel.variables[var].role in wanted and var not in wanted[panel.variables[var].role]:
                wanted[panel.variables[var].role].append(var)
    for role in wanted:
        if not wanted[role]:
            wanted[role] = [v for v, info in panel.variables.items() if info.role == role and info.is_count][:4]
    if not wanted["activity"] or not wanted["harm"]:
        return
    single = len(timing.cohorts) == 1
    pmap = _period_map(panel)
    start = pmap.get(str(next(iter(timing.cohorts)))) if single else None
    if single and start is None:
        return
    block = {"month": 3, "week": 4}.get(freq, 1)
    labels = {k: v[1] for k, v in panel.outcomes.items()}
    event_col = f"{name}__event_time"
    data = outputs_outcomes_data(panel.data, areas=timing.treated_areas, activity=wanted["activity"],
                                 harm=wanted["harm"], start=start, event_time=None if single else event_col,
                                 block=block, labels=labels)
    if data.empty:
        return
    rows = panel.data[panel.data["area_code"].isin(timing.treated_areas)]
    by_event: dict[tuple[str, float], pd.Period] = {}
    if not single:
        by_event = dict(zip(zip(rows["area_code"], rows[event_col].astype(float), strict=True), rows["period"], strict=True))
    freq_code = panel.data["period"].dtype.freq
    keys: list[CellKey | None] = []
    stem = chart_slug("outputs_outcomes", name)
    for _, row in data.iterrows():
        if not np.isfinite(row["value"]):
            keys.append(None)
            continue
        span = int(row["span"])
        if single:
            periods = [pd.Period(ordinal=int(row["time"]) + j, freq=freq_code) for j in range(span)]
            pairs = [(a, p) for a in timing.treated_areas for p in periods]
        else:
            pairs = [(a, by_event[(a, row["time"] + j)]) for a in timing.treated_areas for j in range(span)]
        atoms, value = b.counts.cell(freq, row["variable"], pairs)
        keys.append(b.ledger.add(atoms, value, group=f"oo:{name}:{row['variable']}", where=f"chart {stem}"))
    label = content.intervention_label(name)
    areas_text = (f"the treated area {timing.treated_areas[0]}" if len(timing.treated_areas) == 1
                  else f"the {len(timing.treated_areas)} treated areas")
    start_text = f"{label} starts ({next(iter(timing.cohorts))})" if single else f"{label} starts in each area"

    def render() -> PublishedChart:
        d = data.copy()
        d["suppressed"] = [k is not None and not b.ledger.is_shown(k) for k in keys]
        d.loc[d["suppressed"], ["value", "index"]] = np.nan
        fig = plot_outputs_outcomes(d, start_label=start_text,
                                    title=f"{label}: police activity and harm outcomes in {areas_text}")
        alt = outputs_outcomes_alt(d, areas_text=areas_text, start_label=start_text)
        saved = b.save(fig, stem, alt, title=f"{label}: outputs and outcomes")
        caption = (f"Police activity (outputs, upper panel) beside harm outcomes (lower panel) in {areas_text}, "
                   "each indexed to its pre-intervention average (= 100). A rise in activity is not a "
                   "reduction in harm.")
        return PublishedChart("outputs_outcomes", "overview", saved, caption, d)

    b.add_chart(render)


def build_publication(content: ReportContent, charts_dir: str | Path) -> Publication:
    """Build, disclosure-control, draw and save every chart and count table of a run.

    Parameters
    ----------
    content
        What the run produced.
    charts_dir
        Folder for the chart files (``<output>/charts``).

    Returns
    -------
    Publication
    """
    b = _Builder(content, Path(charts_dir))
    _forest(b)
    evaluated = {a.intervention for a in content.config.analyses}
    for iv in content.config.interventions:
        if iv.name in evaluated:
            _outputs_outcomes(b, iv.name)
    for i, r in enumerate(content.results):
        for _kind, applies, build in RESULT_CHARTS:
            try:
                if applies(r):
                    build(b, i, r)
            except Exception as exc:  # noqa: BLE001 - reported in the report, never silent
                b.notes.append(f"no {_kind} chart for {r.analysis}/{r.outcome} ({type(exc).__name__}: {exc})")
    for analysis in content.config.analyses:
        try:
            _count_table(b, analysis)
        except Exception as exc:  # noqa: BLE001
            b.notes.append(f"no count table for {analysis.name} ({type(exc).__name__}: {exc})")
    return b.render_all()
