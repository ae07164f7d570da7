"""Built-in analysis methods: config -> analysis frame -> estimator -> results.

Each method registers a ``check`` (run for every analysis before any is fitted) and a ``run``.
The checks shared by all methods live in :func:`check_common`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evaluate.config.analyses import AnalysisBase, DescribeAnalysis
from evaluate.data.join import Panel
from evaluate.designs.frames import AnalysisFrame, analysis_frame
from evaluate.errors import AnalysisError, ConfigError, suggest
from evaluate.pipeline.prepare import Prepared
from evaluate.pipeline.registry import register
from evaluate.results import EffectResult, RowAccounting

__all__ = ["check_common", "outcome_info", "frame_for", "with_design_rows"]


def outcome_info(panel: Panel, column: str) -> tuple[str, str]:
    """The role and plain-language label of an outcome column."""
    v = panel.variables.get(column)
    if v is not None:
        return v.role, v.label
    if column.endswith("_rate") and column[: -len("_rate")] in panel.variables:
        base = panel.variables[column[: -len("_rate")]]
        return base.role, f"{base.label} per 100,000 residents"
    if column in panel.derived:
        role = "harm" if "harm index" in panel.derived[column].lower() or column.startswith("harm") else "derived"
        return role, panel.derived[column].split(":")[0]
    return "unknown", column


def _analysis_where(prepared: Prepared, analysis: AnalysisBase) -> str:
    i = [a.name for a in prepared.loaded.model.analyses].index(analysis.name)
    return f"{prepared.loaded.label}: analyses[{i}] '{analysis.name}'"


def check_common(analysis: AnalysisBase, prepared: Prepared, where: str) -> Panel:
    """Checks every method needs: panel, intervention, outcomes and excluded areas exist.

    Returns the panel the analysis uses.
    """
    freq = analysis.frequency or prepared.loaded.model.data.frequency
    panel = prepared.panels.get(freq)
    if panel is None:
        have = ", ".join(prepared.panels)
        raise ConfigError(
            f"{where}.frequency: there is no {freq} panel (panels: {have}); a panel exists at "
            "data.frequency and at the frequency of any coarser source"
        )
    timing = prepared.timings.get(analysis.intervention, {})
    if freq not in timing:
        raise AnalysisError(
            f"{where}: intervention '{analysis.intervention}' cannot be placed on the {freq} panel"
        )
    for outcome in analysis.outcomes:
        if outcome in panel.data.columns and not outcome.startswith(tuple(f"{n}__" for n in prepared.timings)):
            continue
        elsewhere = [f for f, p in prepared.panels.items() if outcome in p.data.columns]
        if elsewhere:
            raise ConfigError(
                f"{where}.outcomes: '{outcome}' is in the {elsewhere[0]} panel, not the {freq} one; "
                f"set frequency: {elsewhere[0]} on this analysis (values are never split into "
                f"finer periods)"
            )
        candidates = [
            c
            for c in panel.data.columns
            if c in panel.variables or c in panel.derived and "__" not in c
        ]
        raise ConfigError(
            f"{where}.outcomes: '{outcome}' is not a column of the {freq} panel"
            f"{suggest(outcome, candidates)} Outcomes are dictionary variables in the sources, "
            "their '<variable>_rate', or the harm index name."
        )
    unknown = [a for a in analysis.exclude_areas if a not in set(panel.areas)]
    if unknown:
        raise ConfigError(
            f"{where}.exclude_areas: {', '.join(map(repr, unknown[:5]))} not in the panel"
            f"{suggest(unknown[0], panel.areas)}"
        )
    return panel


def frame_for(analysis: AnalysisBase, prepared: Prepared) -> tuple[Panel, AnalysisFrame]:
    """The analysis frame: the panel's rows minus excluded areas and (if so set) phase-in rows."""
    freq = analysis.frequency or prepared.loaded.model.data.frequency
    panel = prepared.panels[freq]
    timing = prepared.timings[analysis.intervention][freq]
    frame = analysis_frame(
        panel.data,
        intervention=analysis.intervention,
        exclude_areas=excluded_areas(analysis, prepared, freq),
        phase_in_handling=timing.phase_in_handling,
    )
    return panel, frame


def excluded_areas(analysis: AnalysisBase, prepared: Prepared, freq: str) -> list[str]:
    """``exclude_areas`` plus the treated areas of every ``exclude_treated_by`` intervention."""
    out = list(analysis.exclude_areas)
    for other in analysis.exclude_treated_by:
        timing = prepared.timings.get(other, {}).get(freq)
        if timing is not None:
            out += [a for a in timing.treated_areas if a not in out]
    return out


def with_design_rows(result: EffectResult, frame: AnalysisFrame) -> EffectResult:
    """Fold the analysis frame's exclusions into the result's row accounting."""
    rows = RowAccounting(
        n_input=frame.n_input,
        n_used=result.rows.n_used,
        dropped={**frame.dropped, **result.rows.dropped},
    )
    return dataclasses.replace(result, rows=rows)


def _check_describe(analysis: DescribeAnalysis, prepared: Prepared, where: str) -> None:
    check_common(analysis, prepared, where)


@register("describe", check=_check_describe, description="pre/post means by treated group")
def run_describe(analysis: DescribeAnalysis, prepared: Prepared) -> list[EffectResult]:
    """Run a ``describe`` analysis: one result per outcome."""
    from evaluate.estimators.describe import describe

    panel, frame = frame_for(analysis, prepared)
    results = []
    for outcome in analysis.outcomes:
        role, label = outcome_info(panel, outcome)
        r = describe(
            frame.data,
            outcome=outcome,
            treated=frame.columns["treated"],
            post=f"{analysis.intervention}__post_calendar",
            ci_level=analysis.ci_level,
            analysis=analysis.name,
            intervention=analysis.intervention,
            outcome_role=role,
            outcome_label=label,
        )
        results.append(with_design_rows(r, frame))
    return results


def check_all(prepared: Prepared) -> None:
    """Run every analysis's check before any analysis is fitted."""
    from evaluate.pipeline.registry import get_method

    for analysis in prepared.loaded.model.analyses:
        method = get_method(analysis.method)
        method.check(analysis, prepared, _analysis_where(prepared, analysis))


def run_all(prepared: Prepared, progress: Any = None) -> list[EffectResult]:
    """Run every analysis in config order."""
    from evaluate.pipeline.registry import get_method

    results: list[EffectResult] = []
    for analysis in prepared.loaded.model.analyses:
        method = get_method(analysis.method)
        if progress is not None:
            progress(f"running {analysis.name} ({analysis.method})")
        results += method.run(analysis, prepared)
    return results
