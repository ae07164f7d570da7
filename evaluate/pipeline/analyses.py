"""What every analysis method shares: checks, analysis frames, and running them all.

Each method (``pipeline/methods/<method>.py``) registers a ``check`` (run for every analysis
before any is fitted) and a ``run``; :func:`check_common` holds the checks all methods need.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evaluate.config.analyses import AnalysisBase
from evaluate.data.join import Panel
from evaluate.designs.frames import AnalysisFrame, analysis_frame
from evaluate.errors import AnalysisError, ConfigError, suggest
from evaluate.pipeline.prepare import Prepared
from evaluate.results import EffectResult, RowAccounting

__all__ = ["check_common", "outcome_info", "frame_for", "with_design_rows"]


def outcome_info(panel: Panel, column: str) -> tuple[str, str]:
    """The role (``activity``, ``harm``, ``benefit``) and plain-language label of an outcome."""
    return panel.outcomes.get(column, ("unknown", column))


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
        _check_outcome(outcome, panel, prepared, freq, where)
    unknown = [a for a in analysis.exclude_areas if a not in set(panel.areas)]
    if unknown:
        areas = panel.areas
        raise ConfigError(
            f"{where}.exclude_areas: {', '.join(map(repr, unknown[:5]))} not in the panel"
            f"{suggest(unknown[0], areas)}; the panel's areas are {', '.join(areas[:8])}"
            f"{', ...' if len(areas) > 8 else ''}"
        )
    return panel


def _check_outcome(outcome: str, panel: Panel, prepared: Prepared, freq: str, where: str) -> None:
    if outcome in panel.outcomes:
        return
    elsewhere = [f for f, p in prepared.panels.items() if outcome in p.outcomes]
    if elsewhere:
        raise ConfigError(
            f"{where}.outcomes: '{outcome}' is in the {elsewhere[0]} panel, not the {freq} one; "
            f"set frequency: {elsewhere[0]} on this analysis (values are never split into "
            "finer periods)"
        )
    population = prepared.loaded.model.data.population
    base = outcome.removesuffix("_rate")
    if outcome.endswith("_rate") and base in panel.outcomes and population not in panel.data:
        raise ConfigError(
            f"{where}.outcomes: '{outcome}' needs the denominator '{population}', and no source "
            "provides it; add a source with entity population, or evaluate the count "
            f"'{base}' instead"
        )
    if outcome in panel.variables:
        role = panel.variables[outcome].role
        raise ConfigError(
            f"{where}.outcomes: '{outcome}' is a {role}, not an outcome; outcomes are activity, "
            "harm or benefit variables, their rates, or the harm index"
        )
    if outcome in panel.data.columns:
        raise ConfigError(
            f"{where}.outcomes: '{outcome}' is a key, timing or flag column of the panel, not an "
            "outcome; outcomes are activity, harm or benefit variables, their rates "
            "('<variable>_rate'), or the harm index"
        )
    raise ConfigError(
        f"{where}.outcomes: '{outcome}' is not an outcome of the {freq} panel"
        f"{suggest(outcome, panel.outcomes)}; available: {', '.join(list(panel.outcomes)[:10])}"
        f"{', ...' if len(panel.outcomes) > 10 else ''}"
    )


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


def check_has_treated_data(analysis: AnalysisBase, prepared: Prepared, where: str) -> AnalysisFrame:
    """After exclusions, treated areas with pre and post rows and observed outcomes must remain."""
    _, frame = frame_for(analysis, prepared)
    data = frame.data
    treated = data[frame.columns["treated"]].to_numpy(dtype=bool)
    post = data[frame.columns["post"]].to_numpy(dtype=bool)
    dropped = ", ".join(f"{n:,} {why}" for why, n in frame.dropped.items() if n)
    if not treated.any():
        raise AnalysisError(
            f"{where}: no treated area is left after exclusions ({dropped or 'none'}); check "
            "exclude_areas and exclude_treated_by"
        )
    if not (treated & post).any():
        raise AnalysisError(
            f"{where}: the treated areas have no post-period rows left ({dropped}); shorten "
            "the intervention's phase_in or set phase_in.handling: flag"
        )
    if not (treated & ~post).any():
        raise AnalysisError(f"{where}: the treated areas have no pre-period rows")
    for outcome in analysis.outcomes:
        observed = data[outcome].notna().to_numpy()
        if not (observed & treated).any():
            raise AnalysisError(
                f"{where}.outcomes: '{outcome}' has no observed value in the treated areas (all "
                "missing or suppressed); nothing can be estimated from it"
            )
    return frame


def check_all(prepared: Prepared) -> None:
    """Run every analysis's check before any analysis is fitted."""
    from evaluate.pipeline.registry import get_method

    for analysis in prepared.loaded.model.analyses:
        method = get_method(analysis.method)
        method.check(analysis, prepared, _analysis_where(prepared, analysis))


def run_all(
    prepared: Prepared,
    progress: Any = None,
    *,
    workers: int | None = 1,
    scheduler: str | None = None,
) -> list[EffectResult]:
    """Run every analysis, in config order.

    With ``workers`` other than 1, or a Dask ``scheduler`` address, each (analysis, outcome) pair
    is one task of a :func:`evaluate.grid.run_grid` specification grid: the results are the same,
    in the same order, as a run in this process (each analysis has its own seed).
    """
    from evaluate.pipeline.registry import get_method

    analyses = prepared.loaded.model.analyses
    if workers == 1 and not scheduler:
        results: list[EffectResult] = []
        for analysis in analyses:
            method = get_method(analysis.method)
            if progress is not None:
                progress(f"running {analysis.name} ({analysis.method})")
            results += method.run(analysis, prepared)
        return results
    from evaluate.grid import run_grid

    tasks = [(i, outcome) for i, a in enumerate(analyses) for outcome in a.outcomes]
    if progress is not None:
        where = f"the Dask cluster at {scheduler}" if scheduler else f"{workers or 'all'} worker processes"
        progress(f"running {len(tasks)} analysis x outcome tasks on {where}")
    parts = run_grid(_run_task, tasks, shared=prepared, workers=workers, scheduler=scheduler, desc="analyses",
                     progress=None)
    return [r for part in parts for r in part]


def _run_task(prepared: Prepared, task: tuple[int, str]) -> list[EffectResult]:
    """One (analysis, outcome) of a parallel run (module level, so worker processes can import it)."""
    from evaluate.pipeline.registry import get_method

    i, outcome = task
    analysis = prepared.loaded.model.analyses[i]
    one = analysis.model_copy(update={"outcomes": [outcome]})
    return get_method(analysis.method).run(one, prepared)
