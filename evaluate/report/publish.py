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
from collections.abc import Callable
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
    """Cell values and atoms from the panels, as integer arrays.

    An atom is one (variable, area, period) value at the main frequency where the period nests in
    the main frequency's periods (a quarter in three months), else at its own frequency; each is
    numbered, so a cell over a national panel (hundreds of thousands of area-months) is one
    array, not hundreds of thousands of Python tuples.
    """

    def __init__(self, content: ReportContent) -> None:
        self.content = content
        self.main = content.main_frequency
        main = content.panels.get(self.main)
        self.main_vars = set(main.variables) if main is not None else set()
        codes: set[str] = set()
        for panel in content.panels.values():
            codes.update(pd.unique(panel.data["area_code"].astype(str)))
        self.areas = pd.Index(sorted(codes))
        self._grid: dict[str, tuple[int, int, Any]] = {}
        for freq, panel in content.panels.items():
            ordinals = _ordinals(panel.data["period"])
            lo = int(ordinals.min()) if len(ordinals) else 0
            n = int(ordinals.max()) - lo + 1 if len(ordinals) else 0
            self._grid[freq] = (lo, n, panel.data["period"].dtype.freq)
        self._values: dict[tuple[str, str], np.ndarray] = {}
        self._nesting: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._offsets: dict[tuple[str, str], int] = {}
        self._area_cache: dict[int, tuple[list[str], np.ndarray]] = {}
        self.size = 0
        """Atoms numbered so far (the next atom's number)."""

    def _offset(self, freq: str, var: str) -> int:
        key = (freq, var)
        if key not in self._offsets:
            self._offsets[key] = self.size
            self.size += len(self.areas) * self._grid[freq][1]
        return self._offsets[key]

    def fresh_atom(self) -> np.ndarray:
        """A new atom of its own (for a cell that covers no known value)."""
        self.size += 1
        return np.array([self.size - 1], dtype=np.int64)

    def _table(self, freq: str, var: str) -> np.ndarray:
        key = (freq, var)
        if key not in self._values:
            data = self.content.panels[freq].data
            lo, n, _ = self._grid[freq]
            table = np.full((len(self.areas), n), np.nan)
            ai = self.areas.get_indexer(data["area_code"].astype(str))
            table[ai, _ordinals(data["period"]) - lo] = data[var].to_numpy(dtype=float, na_value=np.nan)
            self._values[key] = table
        return self._values[key]

    def _nests(self, freq: str) -> tuple[np.ndarray, np.ndarray]:
        """Per period of ``freq``: its first main-frequency period (index) and how many (0: none)."""
        if freq not in self._nesting:
            lo, n, code = self._grid[freq]
            mlo, mn, mcode = self._grid[self.main]
            first = np.zeros(n, dtype=np.int64)
            length = np.zeros(n, dtype=np.int64)
            for j in range(n):
                period = pd.Period(ordinal=lo + j, freq=code)
                inner = pd.period_range(period.start_time, period.end_time, freq=mcode)
                if (len(inner) and inner[0].start_time == period.start_time
                        and inner[-1].end_time == period.end_time
                        and inner[0].ordinal >= mlo and inner[-1].ordinal < mlo + mn):
                    first[j], length[j] = inner[0].ordinal - mlo, len(inner)
            self._nesting[freq] = (first, length)
        return self._nesting[freq]

    def area_index(self, codes: Any) -> np.ndarray:
        """Positions of area codes in :attr:`areas` (-1: unknown); integer input is returned as is."""
        if isinstance(codes, np.ndarray) and np.issubdtype(codes.dtype, np.integer):
            return codes
        if isinstance(codes, list):
            hit = self._area_cache.get(id(codes))
            if hit is not None and hit[0] is codes:
                return hit[1]
        out = self.areas.get_indexer(pd.Index(np.asarray(codes, dtype=object)).astype(str))
        if isinstance(codes, list):
            self._area_cache[id(codes)] = (codes, out)  # the list is kept, so its id stays its own
        return out

    def cell(self, freq: str, var: str, areas: Any, periods: Any) -> tuple[np.ndarray, float]:
        """Atoms and total of ``var`` over (area, period) pairs (NaN if any is missing).

        Parameters
        ----------
        freq, var
            The panel's frequency and the count variable.
        areas, periods
            Equal-length sequences: area codes (or their :meth:`area_index` positions) and
            periods (``pd.Period``, period arrays, or ordinals) of the pairs the count sums.

        Returns
        -------
        tuple
            The atoms (integer array) and the total.
        """
        lo, n, _ = self._grid[freq]
        ai = self.area_index(areas)
        pi = _ordinals(periods) - lo
        if len(ai) != len(pi):
            raise ValueError(f"{len(ai)} areas but {len(pi)} periods")
        known = (ai >= 0) & (pi >= 0) & (pi < n)
        complete = bool(known.all())
        if not complete:
            ai, pi = ai[known], pi[known]
        total = float(self._table(freq, var)[ai, pi].sum()) if complete else math.nan
        if not len(ai):
            return self.fresh_atom(), math.nan
        if freq != self.main and var in self.main_vars and self.main in self._grid:
            first, length = self._nests(freq)
            nested = length[pi] > 0
            parts = [self._offset(freq, var) + ai[~nested] * n + pi[~nested]]
            if nested.any():
                mn = self._grid[self.main][1]
                reps = length[pi[nested]]
                start = np.repeat(first[pi[nested]], reps)
                step = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
                parts.append(self._offset(self.main, var) + np.repeat(ai[nested], reps) * mn + start + step)
            return np.concatenate(parts), total
        return self._offset(freq, var) + ai * n + pi, total


def _ordinals(periods: Any) -> np.ndarray:
    """Period ordinals of one period, a list of periods, or a period array/Series/index."""
    if isinstance(periods, pd.Period):
        return np.array([periods.ordinal], dtype=np.int64)
    dtype = getattr(periods, "dtype", None)
    if isinstance(dtype, pd.PeriodDtype):
        return np.asarray(pd.PeriodIndex(periods).asi8, dtype=np.int64)
    if dtype is not None and np.issubdtype(dtype, np.integer):
        return np.asarray(periods, dtype=np.int64)  # ordinals already
    return np.fromiter((p.ordinal for p in periods), dtype=np.int64)


def _compress(cells: list[np.ndarray], size: int) -> list[frozenset[int]]:
    """Each cell as the set of its atom *classes*: atoms that lie in exactly the same cells.

    Counts are sums of non-negative atoms, so atoms that always appear together act as one (their
    sum): what can be inferred about a cell from the others is the same for the classes as for
    the atoms, and the ledger's work scales with the few classes rather than the many atoms.
    Partition refinement: each cell splits the classes it cuts.
    """
    labels = np.zeros(size, dtype=np.int64)
    following = 1
    for atoms in cells:
        sub = labels[atoms]
        present = np.zeros(following, dtype=bool)
        present[sub] = True
        split = np.flatnonzero(present)
        fresh = np.zeros(following, dtype=np.int64)
        fresh[split] = following + np.arange(len(split))  # one new class per class the cell cuts
        labels[atoms] = fresh[sub]
        following += len(split)
    keys = []
    for atoms in cells:
        present = np.zeros(following, dtype=bool)
        present[labels[atoms]] = True
        keys.append(frozenset(np.flatnonzero(present).tolist()))
    return keys


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
        self._cache: dict[tuple[str, str], Any] = {}
        """Per-analysis work shared by several charts and tables: ``("groups", name)``, ``("pairs", name)``."""
        self._pending: list[tuple[np.ndarray, float, str | None, str]] = []
        self._keys: list[CellKey] = []

    # counts: registered as atom arrays while planning, in the ledger (as atom classes) at resolve
    def add_count(self, atoms: np.ndarray, value: float, *, group: str | None = None, where: str = "") -> int:
        """Register a published count (see :meth:`_Counts.cell`); returns its handle."""
        self._pending.append((atoms, float(value), group, where))
        return len(self._pending) - 1

    def status(self, handle: int) -> str:
        """``shown``, ``suppressed`` or ``unavailable`` for a registered count."""
        return self.ledger.status(self._keys[handle])

    def is_shown(self, handle: int) -> bool:
        """Whether a registered count may be published."""
        return self.ledger.is_shown(self._keys[handle])

    def _resolve(self) -> None:
        self._keys = _compress([p[0] for p in self._pending], self.counts.size)
        for key, (_, value, group, where) in zip(self._keys, self._pending, strict=True):
            self.ledger.add(key, value, group=group, where=where)
        self._pending = []
        self.ledger.resolve()

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
        key = ("groups", analysis.name)
        if key in self._cache:
            return self._cache[key]
        frame = self.frame(analysis)
        if frame is None:
            return {}
        treated = frame.data[frame.columns["treated"]].to_numpy(dtype=bool)
        areas = frame.data["area_code"].astype(str).to_numpy(dtype=object)
        out = {GROUP_TREATED: sorted(set(areas[treated])), GROUP_COMPARISON: sorted(set(areas[~treated]))}
        self._cache[key] = {k: v for k, v in out.items() if v}
        return self._cache[key]

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

        self._resolve()
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
    keys: list[int] = []
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
                atoms, value = b.counts.cell(panel.frequency, var, areas, np.full(len(areas), period.ordinal))
                keys.append(b.add_count(atoms, value, group=f"its:{i}", where=f"chart {stem}"))
    iv = b.content.intervention_label(r.intervention)
    timing = b.content.timings.get(r.intervention, {}).get(panel.frequency if panel else "")
    flagged = timing.phase_in_periods if timing is not None and timing.phase_in_handling == "flag" else None

    def render() -> PublishedChart:
        shown = [b.is_shown(k) for k in keys] if keys else None
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
    keys: list[int | None] = []
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
            atoms, value = b.counts.cell(panel.frequency, var, [r.unit], [period])
            keys.append(b.add_count(atoms, value, group=f"synth:{i}", where=f"chart {stem}"))

    def shown() -> list[bool] | None:
        return [k is None or b.is_shown(k) for k in keys] if keys else None

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
    keys: list[int | None] = []
    pmap = _period_map(panel)
    for group, label, count in zip(data["group"], data["period"], data["count"], strict=True):
        if var is None or not np.isfinite(count):
            keys.append(None)
            continue
        areas = groups[group]
        atoms, value = b.counts.cell(panel.frequency, var, areas, np.full(len(areas), pmap[label].ordinal))
        keys.append(b.add_count(atoms, value, where=f"chart {stem}"))
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
        d["suppressed"] = [k is not None and not b.is_shown(k) for k in keys]
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


Pairs = tuple[np.ndarray, np.ndarray]
"""(area positions, period ordinals) of the area-periods a count sums."""


def _pairs(areas: np.ndarray, ordinals: np.ndarray) -> Pairs:
    """Every area (positions, :meth:`_Counts.area_index`) with every period."""
    return np.repeat(areas, len(ordinals)), np.tile(ordinals, len(areas))


def _table_pairs_its(b: _Builder, analysis: AnalysisBase, r: EffectResult, panel: Panel) -> dict[str, dict[str, Pairs]] | None:
    """(group -> column -> pairs) for an ITS result."""
    series = r.plot_data.get("series")
    if series is None:
        return None
    pmap = _period_map(panel)
    periods = [pmap.get(str(p)) for p in series["period"]]
    if any(p is None for p in periods):
        return None
    ordinals = np.array([p.ordinal for p in periods], dtype=np.int64)
    post = series["post"].to_numpy(dtype=bool)
    groups = b.groups(analysis)
    unit_areas = groups.get(GROUP_TREATED, []) if r.unit == "treated total" else [r.unit]
    rows = {f"{r.unit}" if r.unit != "treated total" else GROUP_TREATED: unit_areas}
    ctrl = getattr(analysis, "control", None)
    if ctrl == "untreated_total" and groups.get(GROUP_COMPARISON):
        rows[GROUP_COMPARISON] = groups[GROUP_COMPARISON]
    return {
        label: {COLUMNS[0]: _pairs(index, ordinals[~post]), COLUMNS[1]: _pairs(index, ordinals[post])}
        for label, areas in rows.items()
        for index in [b.counts.area_index(areas)]
    }


def _table_pairs_groups(b: _Builder, analysis: AnalysisBase) -> dict[str, dict[str, Pairs]] | None:
    key = ("pairs", analysis.name)
    if key not in b._cache:
        b._cache[key] = _group_pairs(b, analysis)
    return b._cache[key]


def _group_pairs(b: _Builder, analysis: AnalysisBase) -> dict[str, dict[str, Pairs]] | None:
    frame = b.frame(analysis)
    if frame is None:
        return None
    data = frame.data
    post = data[f"{analysis.intervention}__post_calendar"].to_numpy(dtype=bool)
    treated = data[frame.columns["treated"]].to_numpy(dtype=bool)
    areas = b.counts.area_index(data["area_code"])
    ordinals = _ordinals(data["period"])
    out = {}
    for label, mask in ((GROUP_TREATED, treated), (GROUP_COMPARISON, ~treated)):
        if not mask.any():
            continue
        before, after = mask & ~post, mask & post
        out[label] = {COLUMNS[0]: (areas[before], ordinals[before]), COLUMNS[1]: (areas[after], ordinals[after])}
    return out


def _join(*pairs: Pairs) -> Pairs:
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


def _count_table(b: _Builder, analysis: AnalysisBase) -> None:
    """Register and plan the before/after count table of an analysis."""
    panel = b.content.panel_of(analysis)
    if panel is None:
        return
    records: list[dict[str, Any]] = []
    keys: list[dict[str, int]] = []
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
            pairs = {**pairs, GROUP_ALL: {c: _join(*(g[c] for g in pairs.values())) for c in COLUMNS[:2]}}
        for group, cols in pairs.items():
            rec: dict[str, Any] = {"outcome": r.outcome, "outcome_label": label, "variable": var, "group": group}
            k: dict[str, int] = {}
            for c in COLUMNS:
                cell_areas, cell_periods = cols[c] if c in cols else _join(cols[COLUMNS[0]], cols[COLUMNS[1]])
                if not len(cell_areas):
                    rec[c] = math.nan
                    continue
                atoms, value = b.counts.cell(panel.frequency, var, cell_areas, cell_periods)
                rec[c] = value
                k[c] = b.add_count(atoms, value, where=f"table {analysis.name}")
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
            [{c: (b.status(k[c]) if c in k else "unavailable") for c in COLUMNS} for k in keys]
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
    treated = list(timing.treated_areas)
    if not single:
        # each treated area's period at each event time, looked up for whole blocks at once
        rows = panel.data[panel.data["area_code"].isin(treated)]
        index = pd.MultiIndex.from_arrays([rows["area_code"].astype(str).to_numpy(dtype=object),
                                           rows[event_col].to_numpy(dtype=float)])
        row_ordinals = _ordinals(rows["period"])
    keys: list[int | None] = []
    stem = chart_slug("outputs_outcomes", name)
    for variable, time, span, value in zip(data["variable"], data["time"], data["span"], data["value"], strict=True):
        if not np.isfinite(value):
            keys.append(None)
            continue
        span = int(span)
        if single:
            areas, ordinals = _pairs(b.counts.area_index(treated), int(time) + np.arange(span, dtype=np.int64))
        else:
            areas = np.repeat(np.asarray(treated, dtype=object), span)
            events = np.tile(float(time) + np.arange(span, dtype=float), len(treated))
            at = index.get_indexer(pd.MultiIndex.from_arrays([areas, events]))
            if (at < 0).any():
                raise KeyError(f"no period for event time {time} in every treated area")
            ordinals = row_ordinals[at]
        atoms, total = b.counts.cell(freq, variable, areas, ordinals)
        keys.append(b.add_count(atoms, total, group=f"oo:{name}:{variable}", where=f"chart {stem}"))
    label = content.intervention_label(name)
    areas_text = (f"the treated area {timing.treated_areas[0]}" if len(timing.treated_areas) == 1
                  else f"the {len(timing.treated_areas)} treated areas")
    start_text = f"{label} starts ({next(iter(timing.cohorts))})" if single else f"{label} starts in each area"

    def render() -> PublishedChart:
        d = data.copy()
        d["suppressed"] = [k is not None and not b.is_shown(k) for k in keys]
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
