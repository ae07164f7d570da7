"""Intervention timing: who is treated, from when, and the phase-in periods.

For an intervention named ``x`` these columns are added to a panel:

=====================  ====================================================================
``x__treated``         the area is ever treated
``x__start``           label of the area's first treated period (empty if never treated)
``x__cohort``          ``t`` of the first treated period (the adoption cohort; <NA> if never)
``x__event_time``      ``t`` minus the cohort (0 in the first treated period; <NA> if never)
``x__post``            the area is treated in this period (``event_time >= 0``)
``x__phase_in``        the period is one of the first ``phase_in.periods`` treated periods
=====================  ====================================================================

A single start date applies to the listed areas; an adoption table gives each area its own start
(staggered adoption). In a panel coarser than the one the dates were given for, an area counts as
treated from the period that contains its start, and a note says when that period is only partly
treated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from evaluate.config.models import InterventionConfig
from evaluate.data.join import Panel
from evaluate.data.periods import PANDAS_FREQ, parse_period, period_label
from evaluate.errors import AnalysisError, suggest

__all__ = ["Timing", "add_timing", "timing_columns"]


def timing_columns(name: str) -> dict[str, str]:
    """Column names of an intervention's timing columns, by role."""
    return {
        k: f"{name}__{k}"
        for k in ("treated", "start", "cohort", "event_time", "post", "phase_in")
    }


@dataclass
class Timing:
    """How an intervention was placed on a panel."""

    name: str
    kind: str
    frequency: str
    treated_areas: list[str]
    never_treated: list[str]
    cohorts: dict[str, list[str]]
    phase_in_periods: int
    phase_in_handling: str
    not_in_window: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def add_timing(
    panel: Panel,
    intervention: InterventionConfig,
    *,
    adoption: pd.DataFrame | None = None,
    adoption_frequency: str | None = None,
    base_frequency: str | None = None,
    context: str = "interventions",
) -> Timing:
    """Add an intervention's timing columns to a panel.

    Parameters
    ----------
    panel
        The panel (modified in place).
    intervention
        The intervention's config.
    adoption
        For staggered adoption: ``area_code`` and ``start`` (pandas Periods at
        ``adoption_frequency``; missing for areas that never adopt).
    adoption_frequency
        Frequency the adoption dates were read at.
    base_frequency
        Frequency that ``phase_in.periods`` counts (``data.frequency``). On a coarser panel a
        period is phase-in when any part of it falls within the phase-in: three phase-in months
        from July mark one quarter (July to September), not three quarters.
    context
        Config location for messages, e.g. ``"demo.yaml: interventions[1]"``.

    Raises
    ------
    AnalysisError
        If a treated area is not in the panel, a start date lies outside the data, or there is
        no pre-period.
    """
    data = panel.data
    cols = timing_columns(intervention.name)
    areas = panel.areas
    periods = panel.periods
    first, last = periods[0], periods[-1]
    freq = panel.frequency
    notes: list[str] = []

    if adoption is None:
        start = parse_period(intervention.start or "", freq, context=f"{context}.start")
        missing = [a for a in intervention.treated_areas or [] if a not in set(areas)]
        if missing:
            raise AnalysisError(
                f"{context}.treated_areas: {', '.join(repr(m) for m in missing[:5])} not in the "
                f"panel{suggest(missing[0], areas)}; fix the code, or add the area to "
                f"{panel.report.area_source} (where the panel's areas come from: "
                f"{', '.join(areas[:6])}{', ...' if len(areas) > 6 else ''})"
            )
        starts = {a: start for a in intervention.treated_areas or []}
        kind = "single start"
        _partial_note(start, intervention.start or "", freq, notes)
    else:
        kind = "staggered adoption"
        pfreq = PANDAS_FREQ[freq]
        starts = {}
        unknown = []
        for code, p in zip(adoption["area_code"], adoption["start"]):
            if pd.isna(p):
                continue
            if code not in set(areas):
                unknown.append(code)
                continue
            starts[code] = p.asfreq(pfreq, how="start") if adoption_frequency != freq else p
        if unknown:
            raise AnalysisError(
                f"{context}.adoption: areas {', '.join(map(repr, unknown[:5]))} of the adoption "
                f"table are not in the panel{suggest(str(unknown[0]), areas)}; fix the codes"
            )
        if adoption_frequency and adoption_frequency != freq:
            notes.append(
                f"adoption dates given at {adoption_frequency} are placed in the {freq} period "
                "that contains them; such a period is only partly treated"
            )
        if not starts:
            raise AnalysisError(f"{context}.adoption: the adoption table has no start dates")

    in_window = {a: s for a, s in starts.items() if first < s <= last}
    before = sorted(a for a, s in starts.items() if s <= first)
    after = sorted(a for a, s in starts.items() if s > last)
    if not in_window:
        span = f"{period_label(first, freq)} to {period_label(last, freq)}"
        what = ", ".join(period_label(s, freq) for s in sorted(set(starts.values()))[:3])
        if after and not before:
            problem = f"start {what} is after the last period of the data ({span})"
        elif all(s < first for s in starts.values()):
            problem = f"start {what} is before the first period of the data ({span})"
        else:
            problem = (
                f"start {what} is the first period of the data ({span}), which leaves no "
                "pre-period"
            )
        raise AnalysisError(
            f"{context}: {problem}; an evaluation needs periods before and after the start, so "
            "the start must be after the first period and no later than the last"
        )
    if before:
        notes.append(
            f"{len(before)} area(s) start on or before the first period ({', '.join(before[:5])}): "
            "treated throughout, with no pre-period; estimators that need one leave them out"
        )
    if after:
        notes.append(
            f"{len(after)} area(s) start after the last period ({', '.join(after[:5])}): "
            "never treated within the data"
        )

    origin = first.ordinal
    cohort_t = {a: s.ordinal - origin for a, s in starts.items() if s <= last}
    codes = data["area_code"]
    cohort = codes.map(cohort_t).astype("Int64")
    t = data["t"].astype("Int64")
    event_time = t - cohort
    treated = cohort.notna()
    data[cols["treated"]] = treated.to_numpy(dtype=bool)
    labels = {a: period_label(s, freq) for a, s in starts.items() if s <= last}
    data[cols["start"]] = codes.map(labels).astype("string")
    data[cols["cohort"]] = cohort
    data[cols["event_time"]] = event_time
    data[cols["post"]] = (event_time >= 0).fillna(False).to_numpy(dtype=bool)
    k = intervention.phase_in.periods
    if k == 0 or base_frequency is None or base_frequency == freq:
        phase = ((event_time >= 0) & (event_time < k)).fillna(False).to_numpy(dtype=bool)
    else:
        phase = _coarse_phase_in(data, codes, intervention, adoption, base_frequency, k, post=data[cols["post"]])
        k = int(pd.Series(phase).groupby(codes.to_numpy()).sum().max()) if phase.any() else 0
    data[cols["phase_in"]] = phase

    label = intervention.label or intervention.name
    panel.derived.update(
        {
            cols["treated"]: f"{label}: area ever treated",
            cols["start"]: f"{label}: first treated period",
            cols["cohort"]: f"{label}: t of the first treated period (adoption cohort)",
            cols["event_time"]: f"{label}: periods since the first treated period",
            cols["post"]: f"{label}: area treated in this period",
            cols["phase_in"]: f"{label}: a phase-in period (the first {intervention.phase_in.periods} treated "
            f"{base_frequency or freq} periods)",
        }
    )
    cohorts: dict[str, list[str]] = {}
    for a, s in sorted(starts.items(), key=lambda kv: (kv[1], kv[0])):
        if s <= last:
            cohorts.setdefault(period_label(s, freq), []).append(a)
    treated_areas = sorted(a for a in starts if starts[a] <= last)
    never = [a for a in areas if a not in set(treated_areas)]
    if not never:
        notes.append(
            "no never-treated areas: comparisons must use not-yet-treated areas or a "
            "single-area design"
        )
    return Timing(
        name=intervention.name,
        kind=kind,
        frequency=freq,
        treated_areas=treated_areas,
        never_treated=never,
        cohorts=cohorts,
        phase_in_periods=k,
        phase_in_handling=intervention.phase_in.handling,
        not_in_window=after,
        notes=notes,
    )


def _partial_note(start: pd.Period, text: str, freq: str, notes: list[str]) -> None:
    """Note when a start date given at a finer frequency falls inside a coarser period."""
    try:
        month = parse_period(text, "month", context="start")
    except Exception:  # noqa: BLE001 - only a note; the real parse already succeeded
        return
    if freq in ("quarter", "year", "financial_year") and month.start_time != start.start_time:
        notes.append(
            f"start {text} falls inside {period_label(start, freq)}, which counts as treated "
            "although only part of it is"
        )


def _coarse_phase_in(
    data: pd.DataFrame,
    codes: pd.Series,
    intervention: InterventionConfig,
    adoption: pd.DataFrame | None,
    base_frequency: str,
    k: int,
    *,
    post: pd.Series,
) -> Any:
    """Phase-in rows of a panel coarser than ``base_frequency``: treated periods that begin before
    the phase-in ends (``k`` base periods after each area's start)."""
    import numpy as np

    if adoption is None:
        start = parse_period(intervention.start or "", base_frequency, context="interventions.start")
        ends = {a: (start + k).start_time for a in intervention.treated_areas or []}
    else:
        ends = {a: (p + k).start_time for a, p in zip(adoption["area_code"], adoption["start"], strict=True)
                if not pd.isna(p)}
    period = data["period"]
    row_start = period.dt.start_time if isinstance(period.dtype, pd.PeriodDtype) else pd.PeriodIndex(period).start_time
    end = pd.to_datetime(codes.map(ends))
    return (post.to_numpy(dtype=bool) & (np.asarray(row_start) < end.to_numpy())).astype(bool)
